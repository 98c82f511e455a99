#!/usr/bin/python3
"""Independent check of the exported models with a tiny pure-NumPy ONNX
interpreter (only the ops these models use). For each model it runs the
.onnx file on the first 64 images of data/fashion_mnist_test_2000_x.npy
(scaled by 1/255), compares with data/ref/<model>_logits_test_first64.npy
(torch logits) and reports max |diff| and accuracy on the 2000-sample split.

    /usr/bin/python3 models/check_onnx_numpy.py [--dir models] [--n 2000]

Needs only numpy and onnx (python3-onnx) — not torch.
"""
import argparse
import math
import os
import sys

import numpy as np
import onnx
from onnx import numpy_helper

_erf = np.vectorize(math.erf, otypes=[np.float64])


def attrs(node):
    return {a.name: onnx.helper.get_attribute_value(a) for a in node.attribute}


def conv(x, w, b, a):
    group = a.get("group", 1)
    sh, sw = a.get("strides", [1, 1])
    pads = a.get("pads", [0, 0, 0, 0])
    assert a.get("dilations", [1, 1]) == [1, 1]
    x = np.pad(x, ((0, 0), (0, 0), (pads[0], pads[2]), (pads[1], pads[3])))
    n, c, h, wd = x.shape
    m, cg, kh, kw = w.shape
    oh = (h - kh) // sh + 1
    ow = (wd - kw) // sw + 1
    out = np.zeros((n, m, oh, ow), dtype=np.float32)
    mg = m // group
    for g in range(group):
        xs = x[:, g * cg:(g + 1) * cg]
        cols = np.empty((n, cg, kh, kw, oh, ow), dtype=np.float32)
        for i in range(kh):
            for j in range(kw):
                cols[:, :, i, j] = xs[:, :, i:i + sh * oh:sh, j:j + sw * ow:sw]
        wg = w[g * mg:(g + 1) * mg].reshape(mg, -1)
        out[:, g * mg:(g + 1) * mg] = np.einsum(
            "mk,nkp->nmp", wg, cols.reshape(n, cg * kh * kw, oh * ow)).reshape(n, mg, oh, ow)
    if b is not None:
        out += b.reshape(1, -1, 1, 1)
    return out


def maxpool(x, a):
    kh, kw = a["kernel_shape"]
    sh, sw = a.get("strides", [1, 1])
    assert not any(a.get("pads", [0, 0, 0, 0])) and a.get("ceil_mode", 0) == 0
    n, c, h, w = x.shape
    oh, ow = (h - kh) // sh + 1, (w - kw) // sw + 1
    out = np.full((n, c, oh, ow), -np.inf, dtype=x.dtype)
    for i in range(kh):
        for j in range(kw):
            out = np.maximum(out, x[:, :, i:i + sh * oh:sh, j:j + sw * ow:sw])
    return out


def run(model, x):
    env = {t.name: numpy_helper.to_array(t) for t in model.graph.initializer}
    env[model.graph.input[0].name] = x
    for node in model.graph.node:
        a = attrs(node)
        i = [env[n] if n else None for n in node.input]
        op = node.op_type
        if op == "Constant":
            r = numpy_helper.to_array(a["value"])
        elif op == "Sub":
            r = i[0] - i[1]
        elif op == "Div":
            r = i[0] / i[1]
        elif op == "Mul":
            r = i[0] * i[1]
        elif op == "Add":
            r = i[0] + i[1]
        elif op == "Relu":
            r = np.maximum(i[0], 0)
        elif op == "Clip":
            r = np.clip(i[0], i[1], i[2])
        elif op == "Conv":
            r = conv(i[0], i[1], i[2] if len(i) > 2 else None, a)
        elif op == "BatchNormalization":
            x_, s, b, mu, var = i
            sh = (1, -1) + (1,) * (x_.ndim - 2)
            r = (x_ - mu.reshape(sh)) / np.sqrt(var.reshape(sh) + a.get("epsilon", 1e-5)) \
                * s.reshape(sh) + b.reshape(sh)
        elif op == "MaxPool":
            r = maxpool(i[0], a)
        elif op == "GlobalAveragePool":
            r = i[0].mean(axis=(2, 3), keepdims=True)
        elif op == "Flatten":
            ax = a.get("axis", 1)
            r = i[0].reshape(int(np.prod(i[0].shape[:ax])), -1)
        elif op == "Gemm":
            A, B = i[0], i[1]
            if a.get("transA", 0):
                A = A.T
            if a.get("transB", 0):
                B = B.T
            r = a.get("alpha", 1.0) * (A @ B)
            if len(i) > 2 and i[2] is not None:
                r = r + a.get("beta", 1.0) * i[2]
        elif op == "MatMul":
            r = np.matmul(i[0], i[1])
        elif op == "Reshape":
            shape = [int(d) for d in i[1]]
            for k, d in enumerate(shape):
                if d == 0:
                    shape[k] = i[0].shape[k]
            r = i[0].reshape(shape)
        elif op == "Transpose":
            r = np.transpose(i[0], a.get("perm"))
        elif op == "Softmax":
            ax = a.get("axis", -1)
            e = np.exp(i[0] - i[0].max(axis=ax, keepdims=True))
            r = e / e.sum(axis=ax, keepdims=True)
        elif op == "LayerNormalization":
            ax = a.get("axis", -1)
            axes = tuple(range(ax % i[0].ndim, i[0].ndim))
            mu = i[0].mean(axis=axes, keepdims=True)
            var = ((i[0] - mu) ** 2).mean(axis=axes, keepdims=True)
            r = (i[0] - mu) / np.sqrt(var + a.get("epsilon", 1e-5)) * i[1]
            if len(i) > 2 and i[2] is not None:
                r = r + i[2]
        elif op == "Erf":
            r = _erf(i[0])
        elif op == "ReduceMean":
            r = i[0].mean(axis=tuple(a["axes"]), keepdims=bool(a.get("keepdims", 1)))
        elif op == "Identity":
            r = i[0]
        else:
            raise NotImplementedError(op)
        r = np.asarray(r)
        env[node.output[0]] = r.astype(np.float32) if r.dtype.kind == "f" else r
    return env[model.graph.output[0].name]


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--dir", default=os.path.dirname(os.path.abspath(__file__)))
    ap.add_argument("--n", type=int, default=2000, help="samples for the accuracy check")
    ap.add_argument("--models", nargs="*", default=[
        "cnn_bn", "resnet_small", "mobilenet_small", "mlp", "tiny_transformer"])
    args = ap.parse_args()
    xs = np.load(os.path.join(args.dir, "data", "fashion_mnist_test_2000_x.npy"))
    ys = np.load(os.path.join(args.dir, "data", "fashion_mnist_test_2000_y.npy"))
    x = xs.astype(np.float32) / np.float32(255.0)
    ok = True
    for name in args.models:
        m = onnx.load(os.path.join(args.dir, name + ".onnx"))
        ref = np.load(os.path.join(args.dir, "data", "ref", name + "_logits_test_first64.npy"))
        got = run(m, x[:64])
        diff = float(np.abs(got - ref).max())
        correct = 0
        for s in range(0, args.n, 250):
            correct += int((run(m, x[s:min(s + 250, args.n)]).argmax(1) == ys[s:s + 250][:max(0, args.n - s)]).sum())
        good = diff < 1e-3
        ok &= good
        print("%-18s max|onnx-torch| on 64 = %.2e  %s   numpy-ONNX acc on %d = %.2f%%" % (
            name, diff, "OK" if good else "MISMATCH", args.n, 100.0 * correct / args.n))
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
