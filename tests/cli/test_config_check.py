"""`hearthcam config check` on files that are wrong in the ways real files are (issue 14, item 13):
not UTF-8, a key given twice, alert URLs of other schemes, a model that is no model, empty."""

from __future__ import annotations

from pathlib import Path

from typer.testing import CliRunner

from hearthcam.cli import cli


def check(path: Path) -> tuple[int, str]:
    result = CliRunner().invoke(cli, ["config", "check", str(path)])
    return result.exit_code, result.output


def test_a_non_utf8_file_is_one_line_not_a_traceback(tmp_path: Path) -> None:
    path = tmp_path / "latin1.yml"
    path.write_bytes(b"cameras:\n  cour\xe9: {inputs: [{path: rtsp://cam/a}]}\n")
    code, output = check(path)
    assert code == 2
    assert "Traceback" not in output
    assert f"invalid config {path}" in output
    assert "(file): not UTF-8 text at byte 15" in output


def test_a_camera_given_twice_names_the_key_and_both_lines(tmp_path: Path) -> None:
    path = tmp_path / "twice.yml"
    path.write_text(
        "cameras:\n"
        "  front: {inputs: [{path: rtsp://cam/a}]}\n"
        "  garden: {inputs: [{path: rtsp://cam/b}]}\n"
        "  front: {inputs: [{path: rtsp://cam/c}]}\n"
    )
    code, output = check(path)
    assert code == 2
    assert "line 4: duplicate key 'front' (first at line 2)" in output


def test_file_and_gopher_alert_urls_are_refused_with_their_key_paths(tmp_path: Path) -> None:
    path = tmp_path / "urls.yml"
    path.write_text(
        "alerts:\n"
        "  webhooks: [{url: 'file:///etc/passwd', secret: 0123456789abcdef}]\n"
        "  ntfy: {url: 'gopher://ntfy.example.org', topic: alerts}\n"
    )
    code, output = check(path)
    assert code == 2
    assert "alerts.webhooks[0].url: expected an http:// or https:// URL, got file://" in output
    assert "alerts.ntfy.url: expected an http:// or https:// URL, got gopher://" in output


def test_a_model_that_is_not_an_onnx_model_is_refused_naming_the_key(tmp_path: Path) -> None:
    path = tmp_path / "model.yml"
    path.write_text("detector: {model: /etc/passwd}\n")
    code, output = check(path)
    assert code == 2
    assert "detector.model: expected a built-in name (nanodet-m-416, " in output
    # .onnx by name only: the config parses, ONNX Runtime cannot load it.
    fake = tmp_path / "fake.onnx"
    fake.write_bytes(b"\x89PNG\r\n\x1a\n" + bytes(200))
    path.write_text(f"detector: {{model: {fake}}}\n")
    code, output = check(path)
    assert code == 2
    assert f"detector.model: cannot load {fake} as an ONNX model" in output


def test_an_empty_file_is_valid_and_says_every_default_applies(tmp_path: Path) -> None:
    path = tmp_path / "empty.yml"
    path.write_bytes(b"")
    code, output = check(path)
    assert code == 0, output
    assert output.strip() == f"{path}: ok (empty: every default applies)"
    path.write_text("cameras:\n  front: {inputs: [{path: rtsp://cam/a}]}\n")
    code, output = check(path)
    assert (code, output.strip()) == (0, f"{path}: ok (1 cameras)")
