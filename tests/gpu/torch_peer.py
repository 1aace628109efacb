#!/usr/bin/env python3
"""torch_peer.py: what a PyTorch user gets on the same GPU, timed the way qbench times its own
kernels (native/bench/cuda_bench.h), so the two can sit in one table.

  * torch.nn.functional.linear, FP16                   -> impl "torch-linear-fp16"   (kernel fp16)
  * torch._weight_int4pack_mm (tinygemm), g128          -> impl "torch-int4pack-g128" (kernel w4a16)
    weights packed by torch._convert_weight_to_int4pack; its scale-and-zero tensor always
    carries a zero (w = (q - 8) x scale + zero), so its bytes count one FP16 zero per group
  * torch._weight_int8pack_mm, per-channel              -> impl "torch-int8pack"      (kernel w8a16)

Timing: B back-to-back calls over R rotated weight copies (R x weight bytes >= 3 x L2) captured in
one CUDA graph, the graph replayed T times between CUDA events; per call = replay / B; median,
p10, p90 over the replays. If capture fails, the same sequence runs eagerly behind a
torch.cuda._sleep so the queue is full (printed).

Every op is checked against float32 math on the dequantized weights (max |y - ref| / max |ref|).
Writes JSON ("schema": "qbench.torch-peer"); `qbench-native bench --backend cuda --merge-peer`
turns it into measurements of the results file.
"""
import argparse
import json
import math
import sys
import time


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--out", required=True)
    ap.add_argument("--shapes", default="11008x4096,4096x11008,8192x28672", help="N x K list")
    ap.add_argument("--batches", default="1,16,64")
    ap.add_argument("--replays", type=int, default=30)
    ap.add_argument("--launches", type=int, default=20)
    ap.add_argument("--quick", action="store_true", help="first shape, M = 1 and 16, 10 replays")
    args = ap.parse_args()

    import torch
    import torch.nn.functional as F

    if not torch.cuda.is_available():
        print("SKIP: torch sees no CUDA GPU")
        return 77
    dev = torch.device("cuda")
    props = torch.cuda.get_device_properties(dev)
    l2 = getattr(props, "L2_cache_size", 50 << 20)
    shapes = [tuple(int(v) for v in s.split("x")) for s in args.shapes.split(",")]
    batches = [int(b) for b in args.batches.split(",")]
    if args.quick:
        shapes, batches, args.replays = shapes[:1], [1, 16], 10
    print(f"torch {torch.__version__}, CUDA {torch.version.cuda}, GPU {props.name}, L2 {l2 / 2**20:.0f} MB", flush=True)

    out = {"schema": "qbench.torch-peer", "version": 1, "torch": torch.__version__, "cuda": torch.version.cuda,
           "gpu": props.name, "notes": [], "measurements": []}

    def copies_for(nbytes):
        return max(2, min(64, math.ceil(3 * l2 / max(nbytes, 1)) + 1))

    def time_calls(fn, copies):
        """fn(i) runs one call on copy i. Returns (median, p10, p90) microseconds per call, reps."""
        B = ((max(args.launches, copies) + copies - 1) // copies) * copies
        s = torch.cuda.Stream()
        s.wait_stream(torch.cuda.current_stream())
        with torch.cuda.stream(s):   # warm-up outside capture (cuBLAS handles, workspaces)
            for i in range(3):
                fn(i % copies)
        torch.cuda.current_stream().wait_stream(s)
        torch.cuda.synchronize()
        mode = "graph"
        try:
            g = torch.cuda.CUDAGraph()
            with torch.cuda.graph(g):
                for i in range(B):
                    fn(i % copies)
            run = g.replay
        except Exception as e:   # noqa: BLE001 - report and fall back
            mode = f"eager ({type(e).__name__})"
            torch.cuda.synchronize()

            def run():
                for i in range(B):
                    fn(i % copies)
        for _ in range(3):
            run()
        ev = [(torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)) for _ in range(args.replays)]
        if mode != "graph":
            torch.cuda._sleep(int(50e6))   # keep the GPU busy while Python queues the calls
        for a, b in ev:
            a.record()
            run()
            b.record()
        torch.cuda.synchronize()
        us = sorted(a.elapsed_time(b) * 1000.0 / B for a, b in ev)
        n = len(us)
        med = us[n // 2] if n % 2 else 0.5 * (us[n // 2 - 1] + us[n // 2])
        return med, us[int(math.floor(0.1 * (n - 1)))], us[int(math.ceil(0.9 * (n - 1)))], B * args.replays, mode

    def record(kernel, impl, bits, group, zero, M, N, K, t, nbytes, err, tol, extra=""):
        med, p10, p90, reps, mode = t
        ok = bool(err <= tol) and math.isfinite(err)
        out["measurements"].append({"kernel": kernel, "impl": impl, "bits": bits, "group_size": group, "zero_point": zero,
                                    "m": M, "n": N, "k": K, "reps": reps, "median_us": med, "p10_us": p10, "p90_us": p90,
                                    "bytes": nbytes, "correct": ok, "max_rel_err": err, "timing": mode, "note": extra})
        print(f"  {impl:22s} {N}x{K} M={M:<4d} {med:9.2f} us  p10 {p10:8.2f} p90 {p90:8.2f}  "
              f"{nbytes / (med * 1e-6) / 1e9:7.1f} GB/s  err {err:.2e} {'ok' if ok else 'WRONG'}  [{mode}] {extra}", flush=True)

    def rel_err(y, ref):
        y = y.float()
        return float((y - ref).abs().max() / ref.abs().max().clamp_min(1e-30))

    # ---- the int4 API of this torch ------------------------------------------------------------
    int4_api = {"convert": None, "mm_dtype": None}

    def pack_int4(q_u8_nk):
        """q: uint8 [N, K] codes 0..15 -> packed weights for _weight_int4pack_mm."""
        N, K = q_u8_nk.shape
        errors = []
        # torch >= 2.5: uint8 [N, K/2], (even << 4) | odd, plus innerKTiles.
        try:
            packed = ((q_u8_nk[:, ::2] << 4) | q_u8_nk[:, 1::2]).to(torch.uint8).contiguous()
            w = torch.ops.aten._convert_weight_to_int4pack(packed, 8)
            int4_api["convert"] = "_convert_weight_to_int4pack(uint8 [N, K/2] (even<<4 | odd), innerKTiles=8)"
            return w
        except Exception as e:   # noqa: BLE001
            errors.append(f"uint8 form: {e}")
        # torch <= 2.4: int32 [N, K] codes.
        try:
            w = torch.ops.aten._convert_weight_to_int4pack(q_u8_nk.to(torch.int32).contiguous(), 8)
            int4_api["convert"] = "_convert_weight_to_int4pack(int32 [N, K], innerKTiles=8)"
            return w
        except Exception as e:   # noqa: BLE001
            errors.append(f"int32 form: {e}")
        raise RuntimeError("; ".join(errors))

    torch.manual_seed(0)
    for (N, K) in shapes:
        print(f"shape {N}x{K} (N x K)", flush=True)
        Mmax = max(batches)
        x16 = (torch.rand(Mmax, K, device=dev) * 2 - 1).half()
        # ---- FP16 F.linear
        w16 = (torch.randn(N, K, device=dev) * 0.02).half()
        copies = copies_for(w16.numel() * 2)
        ws = [w16] + [w16.clone() for _ in range(copies - 1)]
        for M in batches:
            x = x16[:M].contiguous()
            ref = x.float() @ w16.float().t()
            y = F.linear(x, w16)
            err = rel_err(y, ref)
            t = time_calls(lambda i: F.linear(x, ws[i]), copies)
            record("fp16", "torch-linear-fp16", 16, 0, False, M, N, K, t, N * K * 2 + M * K * 2 + M * N * 2, err, 2e-3)
        del ws, w16
        torch.cuda.empty_cache()
        # ---- int4 tinygemm g128
        g = 128
        q = torch.randint(0, 16, (N, K), device=dev, dtype=torch.uint8)
        scale = (torch.rand(K // g, N, device=dev) * 0.012 + 0.004)
        zero = (torch.rand(K // g, N, device=dev) - 0.5) * 0.01
        try:
            wp = pack_int4(q)
            w_deq = ((q.float() - 8).view(N, K // g, g) * scale.t().unsqueeze(-1) + zero.t().unsqueeze(-1)).view(N, K)
            # Activation dtype: try FP16 first, then BF16 (tinygemm's historical requirement).
            y = None
            for dt in (torch.float16, torch.bfloat16):
                try:
                    sz = torch.stack([scale, zero], dim=-1).to(dt).contiguous()
                    xx = x16[:1].to(dt)
                    y = torch.ops.aten._weight_int4pack_mm(xx, wp, g, sz)
                    torch.cuda.synchronize()
                    int4_api["mm_dtype"] = str(dt).replace("torch.", "")
                    break
                except Exception as e:   # noqa: BLE001
                    out["notes"].append(f"_weight_int4pack_mm with {dt}: {type(e).__name__}: {str(e)[:200]}")
            if y is None:
                raise RuntimeError("no activation dtype accepted")
            dt = getattr(torch, int4_api["mm_dtype"])
            sz = torch.stack([scale, zero], dim=-1).to(dt).contiguous()
            # Reference with the same (rounded) scale and zero values the kernel sees.
            sz_f = sz.float()
            w_deq = ((q.float() - 8).view(N, K // g, g) * sz_f[..., 0].t().unsqueeze(-1) + sz_f[..., 1].t().unsqueeze(-1)).view(N, K)
            nbytes_w = N * K // 2 + (K // g) * N * 2 * 2
            copies = copies_for(nbytes_w)
            wps = [wp] + [pack_int4(q) for _ in range(copies - 1)]
            for M in batches:
                x = x16[:M].to(dt).contiguous()
                ref = x.float() @ w_deq.t()
                err = rel_err(torch.ops.aten._weight_int4pack_mm(x, wp, g, sz), ref)
                t = time_calls(lambda i: torch.ops.aten._weight_int4pack_mm(x, wps[i], g, sz), copies)
                record("w4a16", "torch-int4pack-g128", 4, 128, True, M, N, K, t, nbytes_w + M * K * 2 + M * N * 2, err,
                       1e-2 if dt == torch.bfloat16 else 4e-3, f"x {int4_api['mm_dtype']}")
            del wps, wp
        except Exception as e:   # noqa: BLE001
            msg = f"int4pack {N}x{K}: {type(e).__name__}: {str(e)[:300]}"
            print("  " + msg, flush=True)
            out["notes"].append(msg)
        torch.cuda.empty_cache()
        # ---- int8 weight-only
        try:
            w8 = torch.randint(-127, 128, (N, K), device=dev, dtype=torch.int8)
            s8 = (torch.rand(N, device=dev) * 0.0015 + 0.0005).half()
            nbytes_w = N * K + N * 2
            copies = copies_for(nbytes_w)
            w8s = [w8] + [w8.clone() for _ in range(copies - 1)]
            w_deq = w8.float() * s8.float().unsqueeze(1)
            for M in batches:
                x = x16[:M].contiguous()
                ref = x.float() @ w_deq.t()
                err = rel_err(torch.ops.aten._weight_int8pack_mm(x, w8, s8), ref)
                t = time_calls(lambda i: torch.ops.aten._weight_int8pack_mm(x, w8s[i], s8), copies)
                record("w8a16", "torch-int8pack", 8, 0, False, M, N, K, t, nbytes_w + M * K * 2 + M * N * 2, err, 4e-3)
            del w8s, w8
        except Exception as e:   # noqa: BLE001
            msg = f"int8pack {N}x{K}: {type(e).__name__}: {str(e)[:300]}"
            print("  " + msg, flush=True)
            out["notes"].append(msg)
        torch.cuda.empty_cache()

    out["int4_api"] = int4_api
    print(f"int4 API used: {int4_api}", flush=True)
    for n in out["notes"]:
        print("note:", n)
    with open(args.out, "w") as f:
        json.dump(out, f, indent=2)
    print(f"wrote {args.out} ({len(out['measurements'])} measurements)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
