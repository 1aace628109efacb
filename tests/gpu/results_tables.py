#!/usr/bin/env python3
"""results_tables.py RESULTS.json: the per-shape markdown tables of docs/cuda-kernels-history.md
(the full tables behind docs/cuda-kernels.md's current results) from one merged results file
(qbench-native bench --backend cuda, plus --merge-peer of torch_peer.py).
Every number is read from the file: nothing is typed by hand."""
import json
import sys


def main():
    d = json.load(open(sys.argv[1]))
    probe = d["probe"]["gbps"]
    gpu = d["environment"]["gpu"]["name"]
    ms = d["measurements"]
    idx = {}
    for m in ms:
        idx[(m["impl"], m["shape"], m["bits"], m["group_size"], m["zero_point"], m["m"])] = m

    def get(impl, shape, bits, group, zero, M):
        return idx.get((impl, shape, bits, group, zero, M))

    shapes = []
    for m in ms:
        if m["shape"] not in shapes and not m["impl"].startswith("torch-"):
            shapes.append(m["shape"])
    print(f"GPU: **{gpu}**, run `{d['run_id']}`, copy probe **{probe:.0f} GB/s** (1 GiB D2D, read + write).\n")
    cols = [("cuBLASLt FP16", "cublaslt-fp16", 16, 0, False), ("torch F.linear FP16", "torch-linear-fp16", 16, 0, False),
            ("qbench W4A16 g128", "qbench-mma", 4, 128, False), ("qbench W4A16 g128 +zero", "qbench-mma", 4, 128, True),
            ("torch int4pack g128 (bf16)", "torch-int4pack-g128", 4, 128, True), ("qbench W8A16", "qbench-mma", 8, 0, False),
            ("torch int8pack", "torch-int8pack", 8, 0, False), ("cuBLASLt FP8 W8A8", "cublaslt-fp8", 8, 0, False),
            ("cuBLASLt INT8 W8A8", "cublaslt-int8", 8, 0, False), ("cuBLASLt BF16", "cublaslt-bf16", 16, 0, False)]
    for s in shapes:
        Ms = sorted({m["m"] for m in ms if m["shape"] == s})
        print(f"#### {s} (N x K)\n")
        print("| M | " + " | ".join(c[0] for c in cols) + " |")
        print("|---:|" + "---:|" * len(cols))
        for M in Ms:
            base = get("cublaslt-fp16", s, 16, 0, False, M)
            if not base:
                continue
            cells = []
            for _, impl, bits, g, z in cols:
                x = get(impl, s, bits, g, z, M)
                if not x:
                    cells.append("")
                    continue
                t = x["median_us"]
                cell = f"{t:.1f} us" if impl == "cublaslt-fp16" else f"{t:.1f} us ({base['median_us'] / t:.2f}x)"
                if impl == "qbench-mma" or impl == "cublaslt-fp16":
                    cell += f", {x['pct_of_probe']:.0f}%"
                if not x["correct"]:
                    cell += " WRONG"
                cells.append(cell)
            print(f"| {M} | " + " | ".join(cells) + " |")
        print()
    # Group sizes (first shape).
    s = shapes[0]
    print(f"#### W4A16 group sizes, {s}\n")
    print("| group | zero | M=1 us | M=1 % of probe | M=16 us | vs cuBLAS FP16 at M=1 |")
    print("|---|---|---:|---:|---:|---:|")
    base = get("cublaslt-fp16", s, 16, 0, False, 1)
    for g in (32, 64, 128, 0):
        for z in (False, True):
            a, b = get("qbench-mma", s, 4, g, z, 1), get("qbench-mma", s, 4, g, z, 16)
            if not a:
                continue
            print(f"| {g or 'per-channel'} | {'yes' if z else 'no'} | {a['median_us']:.2f} | {a['pct_of_probe']:.0f}% | "
                  f"{b['median_us']:.2f} | {base['median_us'] / a['median_us']:.2f}x |" if b else "")
    print()
    n_ok = sum(1 for m in ms if m["correct"])
    print(f"{n_ok} of {len(ms)} measurements matched their reference within tolerance.")


if __name__ == "__main__":
    main()
