"""The RFC 6381 codec string Media Source Extensions needs, from a stream's codec parameters.

``MediaSource.isTypeSupported`` and ``addSourceBuffer`` take a MIME type such as
``video/mp4; codecs="avc1.64001f"``; the part after ``avc1.`` is the profile, constraint flags
and level from the H.264 sequence parameter set. Both forms of extradata FFmpeg hands out are
read: an ``avcC``/``hvcC`` record (MP4 and most files) and Annex B start-code NAL units (RTSP).
"""

from __future__ import annotations

from collections.abc import Iterator

# What the live muxer writes as the sample entry: FFmpeg writes avc1 for H.264, and we ask for
# hvc1 for HEVC because Safari plays only hvc1 while Chromium takes either.
SAMPLE_ENTRY = {"h264": "avc1", "hevc": "hvc1"}
H264_SPS = 7
HEVC_SPS = 33
# general profile_tier_level: profile space/tier/idc, 4 compatibility, 6 constraint, 1 level byte
HEVC_PTL_BYTES = 12


def _nal_units(data: bytes) -> Iterator[bytes]:
    """The NAL units of an Annex B byte stream (split on 00 00 01 start codes)."""
    starts = []
    at = data.find(b"\x00\x00\x01")
    while at >= 0:
        starts.append(at + 3)
        at = data.find(b"\x00\x00\x01", at + 3)
    for i, start in enumerate(starts):
        end = starts[i + 1] - 3 if i + 1 < len(starts) else len(data)
        yield data[start:end].rstrip(b"\x00")  # a 4-byte start code leaves a zero behind


def _unescape(nal: bytes) -> bytes:
    """Removes emulation prevention bytes (00 00 03 -> 00 00)."""
    return nal.replace(b"\x00\x00\x03", b"\x00\x00")


def _h264(extradata: bytes) -> str | None:
    """avc1.PPCCLL: profile_idc, constraint flags and level_idc."""
    if extradata[:1] == b"\x01" and len(extradata) >= 4:  # avcC
        sps = extradata[1:4]
    else:
        found = (n for n in _nal_units(extradata) if n and n[0] & 0x1F == H264_SPS)
        nal = next(found, None)
        if nal is None or len(nal) < 4:
            return None
        sps = _unescape(nal)[1:4]
    return "avc1." + sps.hex()


def _hevc(extradata: bytes) -> str | None:
    """hvc1.<space><profile>.<compat>.<tier><level>[.<constraints>] per ISO/IEC 14496-15 E.3."""
    if extradata[:1] == b"\x01" and len(extradata) >= 1 + HEVC_PTL_BYTES:  # hvcC
        ptl = extradata[1 : 1 + HEVC_PTL_BYTES]
    else:
        found = (n for n in _nal_units(extradata) if len(n) > 2 and (n[0] >> 1) & 0x3F == HEVC_SPS)
        nal = next(found, None)
        if nal is None:
            return None
        # 2 bytes of NAL header, then one byte of ids and sub-layer count before the PTL.
        ptl = _unescape(nal)[3 : 3 + HEVC_PTL_BYTES]
        if len(ptl) < HEVC_PTL_BYTES:
            return None
    space = "" if ptl[0] >> 6 == 0 else "ABC"[(ptl[0] >> 6) - 1]
    profile = ptl[0] & 0x1F
    tier = "H" if ptl[0] & 0x20 else "L"
    # The compatibility flags are written with their bit order reversed.
    compat = int(f"{int.from_bytes(ptl[1:5], 'big'):032b}"[::-1], 2)
    constraints = ptl[5:11].rstrip(b"\x00")
    parts = [f"{space}{profile}", f"{compat:x}", f"{tier}{ptl[11]}"]
    parts += [f"{b:x}".upper() for b in constraints]
    return "hvc1." + ".".join(parts)


def mse_codec(codec: str, extradata: bytes | None) -> str | None:
    """The codecs= value for a stream (None when the codec or its parameters are unknown)."""
    if not extradata:
        return None
    if codec == "h264":
        return _h264(extradata)
    if codec == "hevc":
        return _hevc(extradata)
    return None


def mime_type(codec_string: str) -> str:
    """The MIME type to hand to ``MediaSource.addSourceBuffer``."""
    return f'video/mp4; codecs="{codec_string}"'
