"""Batched throughput of hearthcam's detectors on a GPU, for when one is lent (issues 12, 13, 15).

Not part of the product and not run by the tests: ONNX Runtime's CUDA build (``onnxruntime-gpu``,
243 MB) could not be taken to the lent machine, so this runs the same ONNX graphs through
``onnx2torch`` on the machine's PyTorch (CUDA) and checks them against ONNX Runtime on the CPU
first. Inputs are real frames prepared exactly as the product prepares them (``.gpu/inputs.npz``:
vtest.avi and carphone frames at 1280x720; NanoDet's 416 input, CenterFace's redaction input at
640 px and the second check's input at the 24 px-face scale).

    python3 scripts/gpu_batch_bench.py INPUTS.npz OUT_DIR

Prints a Markdown table and writes ``gpu_batch.json`` into OUT_DIR.
"""

from __future__ import annotations

import json
import statistics
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np
import onnx
import onnxruntime as ort
import torch
from onnx import helper, numpy_helper

MODELS = Path(__file__).resolve().parents[1] / "src" / "hearthcam" / "models"
BATCHES = (1, 4, 16, 64)
WARM, RUNS = 5, 30


def batchable_nanodet(path: Path) -> onnx.ModelProto:
    """NanoDet-m's graph with its two computed reshape targets made batch-free ([0, C, -1]):
    the TF-converted graph computes them for batch 1 only."""
    model = onnx.load(str(path))
    shapes = sorted({n.input[1] for n in model.graph.node if n.op_type == "Reshape"})
    probe = onnx.load(str(path))
    for name in shapes:
        probe.graph.output.append(helper.make_tensor_value_info(name, onnx.TensorProto.INT64, None))
    session = ort.InferenceSession(probe.SerializeToString(), providers=["CPUExecutionProvider"])
    feed = {session.get_inputs()[0].name: np.zeros((1, 3, 416, 416), np.float32)}
    for name, value in zip(shapes, session.run(shapes, feed), strict=True):
        value = value.copy()
        assert value[0] == 1, value
        value[0] = 0 if -1 in value else -1
        model.graph.initializer.append(numpy_helper.from_array(value.astype(np.int64), name + "_b"))
        for node in model.graph.node:
            if node.op_type == "Reshape" and node.input[1] == name:
                node.input[1] = name + "_b"
    model.graph.input[0].type.tensor_type.shape.dim[0].dim_param = "B"
    for output in model.graph.output:
        output.type.tensor_type.shape.dim[0].dim_param = "B"
    return model


def to_blob(pixels: np.ndarray, scale: float) -> np.ndarray:
    """NHWC uint8 RGB -> NCHW float32 times ``scale`` (what cv2.dnn.blobFromImage gives)."""
    return np.ascontiguousarray(pixels.transpose(0, 3, 1, 2)).astype(np.float32) * np.float32(scale)


def as_list(out: Any) -> list[torch.Tensor]:
    return list(out) if isinstance(out, (list, tuple)) else [out]


CUDA = torch.cuda.is_available()
if not CUDA:  # a dry run of the script's logic on a machine without a GPU
    BATCHES, WARM, RUNS = (1, 2), 1, 2


def peak_mib() -> int:
    return round(torch.cuda.max_memory_allocated() / 2**20) if CUDA else 0


def sync() -> None:
    if CUDA:
        torch.cuda.synchronize()


def median_ms(run: Any) -> float:
    for _ in range(WARM):
        run()
    sync()
    times = []
    for _ in range(RUNS):
        start = time.perf_counter()
        run()
        sync()
        times.append((time.perf_counter() - start) * 1000)
    return statistics.median(times)


def main(inputs_path: str, out_dir: str) -> None:
    import onnx2torch

    torch.backends.cudnn.benchmark = True
    data = np.load(inputs_path)
    device = torch.device("cuda" if CUDA else "cpu")
    gpu = torch.cuda.get_device_name(0) if CUDA else "CPU (dry run)"
    cases = [
        ("NanoDet-m 416 (people, live detector)", "nanodet-m-416-coco.onnx", "nano", 1 / 255),
        ("CenterFace, redaction pass (640 px)", "centerface.onnx", "cf640", 1.0),
        ("CenterFace, second check (24 px faces)", "centerface.onnx", "cfcheck", 1.0),
    ]
    rows: list[dict[str, Any]] = []
    for title, filename, key, scale in cases:
        path = MODELS / filename
        graph = batchable_nanodet(path) if key == "nano" else onnx.load(str(path))
        pixels = data[key]
        blobs = to_blob(pixels, scale)
        session = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
        name = session.get_inputs()[0].name
        reference = [session.run(None, {name: blobs[i : i + 1]}) for i in range(len(blobs))]
        net32 = onnx2torch.convert(graph).eval().to(device)
        net16 = onnx2torch.convert(graph).eval().to(device).half()
        x = torch.from_numpy(blobs).to(device)
        with torch.no_grad():
            outs32 = [o.float().cpu().numpy() for o in as_list(net32(x))]
            outs16 = [o.float().cpu().numpy() for o in as_list(net16(x.half()))]
        diff32 = max(
            float(np.abs(ref[j] - outs32[j][i : i + 1]).max())
            for i, ref in enumerate(reference)
            for j in range(len(ref))
        )
        diff16 = max(
            float(np.abs(ref[j] - outs16[j][i : i + 1]).max())
            for i, ref in enumerate(reference)
            for j in range(len(ref))
        )
        check: dict[str, Any] = {}
        if key.startswith("cf"):  # the heatmap: does fp16 keep every face fp32 finds?
            heat = np.concatenate([ref[0] for ref in reference])
            heat16 = outs16[0]
            for bar in (0.5, 0.3):
                cells = heat >= bar
                check[f"cells_fp32_ge_{bar}"] = int(cells.sum())
                check[f"min_fp16_where_fp32_ge_{bar}"] = (
                    float(heat16[cells].min()) if cells.any() else None
                )
        base = {
            "model": title,
            "input": f"{blobs.shape[3]}x{blobs.shape[2]}",
            "max_abs_diff_fp32_vs_ort_cpu": diff32,
            "max_abs_diff_fp16_vs_ort_cpu": diff16,
            **check,
        }
        host = torch.from_numpy(np.ascontiguousarray(pixels))
        for batch in BATCHES:
            reps = -(-batch // len(blobs))
            xb = torch.cat([x] * reps)[:batch].contiguous()
            hb = torch.cat([host] * reps)[:batch]
            hb = hb.pin_memory() if CUDA else hb
            for precision, net in (("fp32", net32), ("fp16", net16)):
                xin = xb if precision == "fp32" else xb.half()
                dtype = torch.float32 if precision == "fp32" else torch.float16

                def model_only(net: Any = net, xin: torch.Tensor = xin) -> None:
                    with torch.no_grad():
                        net(xin)

                def with_upload(
                    net: Any = net, hb: torch.Tensor = hb, dtype: Any = dtype, scale: float = scale
                ) -> None:
                    with torch.no_grad():
                        dev = hb.to(device, non_blocking=True).permute(0, 3, 1, 2)
                        net(dev.to(dtype).mul_(scale).contiguous())

                if CUDA:
                    torch.cuda.reset_peak_memory_stats()
                ms = median_ms(model_only)
                ms_up = median_ms(with_upload)
                rows.append(
                    {
                        **base,
                        "batch": batch,
                        "precision": precision,
                        "ms_per_batch": round(ms, 3),
                        "frames_per_s": round(batch * 1000 / ms, 1),
                        "ms_per_batch_with_upload": round(ms_up, 3),
                        "frames_per_s_with_upload": round(batch * 1000 / ms_up, 1),
                        "peak_gpu_mib": peak_mib(),
                    }
                )
                print(json.dumps(rows[-1]), flush=True)
    out = {"gpu": gpu, "torch": torch.__version__, "onnxruntime": ort.__version__, "rows": rows}
    Path(out_dir, "gpu_batch.json").write_text(json.dumps(out, indent=1))
    print(f"\n{gpu}, torch {torch.__version__}, onnx2torch, median of {RUNS} runs after {WARM}\n")
    print("| model | input | batch | precision | frames/s | ms/batch | frames/s incl. upload |")
    print("|---|---|---:|---|---:|---:|---:|")
    for r in rows:
        print(
            f"| {r['model']} | {r['input']} | {r['batch']} | {r['precision']} | "
            f"{r['frames_per_s']} | {r['ms_per_batch']} | {r['frames_per_s_with_upload']} |"
        )
    for title in dict.fromkeys(r["model"] for r in rows):
        first = next(r for r in rows if r["model"] == title)
        extra = {k: v for k, v in first.items() if k.startswith(("max_abs", "cells", "min_fp16"))}
        print(f"- {title}: {extra}")


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2])
