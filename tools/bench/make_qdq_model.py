#!/usr/bin/env python3
"""Builds a QDQ int8 version of a float CNN, for benchmarking nncompress's fused int8 kernels
against float32 (tools/bench/qdq_speed.sh runs the whole thing). Not the product's quantizer
(that is `nncompress quantize`); a small, plain static quantization:

  probe  MODEL OUT_PROBE CALIB_X.npy OUT_INPUT.npy [--samples N]
         writes MODEL with every Conv input and every Conv/Conv+Relu output added as graph outputs,
         and the first N calibration samples (uint8 [N,1,28,28] / 255, float32) as an input file.
  build  MODEL RUN_DIR OUT_QDQ
         reads the probed tensors' .npy files that `nncompress run` wrote into RUN_DIR (min/max of
         each) and writes OUT_QDQ: activations uint8 per tensor (asymmetric, range widened to 0),
         Conv weights int8 per output channel (symmetric, |q| <= 127), biases int32 with scale
         x_scale * w_scale; QuantizeLinear -> DequantizeLinear after each quantized tensor, so every
         Conv (with its Relu) forms a DequantizeLinear -> Conv -> [Relu] -> QuantizeLinear group.
Expects BatchNormalization already folded (`nncompress canonicalize`). Needs python3-onnx, numpy.
"""
import sys

import numpy as np
import onnx
from onnx import helper, numpy_helper, TensorProto


def sanitize(name):
    out = "".join(c if c.isalnum() or c in "._-" else "_" for c in name)
    return ("_" + out[1:]) if out.startswith(".") else (out or "_")


def conv_points(graph):
    """Tensor names to quantize: Conv inputs, and Conv outputs (after a sole Relu)."""
    readers = {}
    for n in graph.node:
        for i in n.input:
            readers.setdefault(i, []).append(n)
    names = []
    for n in graph.node:
        if n.op_type != "Conv":
            continue
        names.append(n.input[0])
        out = n.output[0]
        r = readers.get(out, [])
        if len(r) == 1 and r[0].op_type == "Relu":
            out = r[0].output[0]
        names.append(out)
    return list(dict.fromkeys(names))


def probe(model_path, out_path, calib_path, input_path, samples):
    m = onnx.load(model_path)
    outputs = {o.name for o in m.graph.output}
    for name in conv_points(m.graph):
        if name not in outputs:
            m.graph.output.append(helper.make_tensor_value_info(name, TensorProto.FLOAT, None))
    onnx.save(m, out_path)
    x = np.load(calib_path)[:samples].astype(np.float32) / 255.0
    np.save(input_path, x)


def activation_params(lo, hi):
    lo, hi = min(lo, 0.0), max(hi, 0.0)
    scale = np.float32((hi - lo) / 255.0) if hi > lo else np.float32(1.0)
    zp = int(np.clip(np.round(-lo / scale), 0, 255))
    return scale, zp


def build(model_path, run_dir, out_path):
    m = onnx.load(model_path)
    g = m.graph
    inits = {t.name: t for t in g.initializer}
    params = {}
    for name in conv_points(g):
        a = np.load(f"{run_dir}/{sanitize(name)}.npy")
        params[name] = activation_params(float(a.min()), float(a.max()))

    new_inits, nodes = [], []
    # Every quantized tensor: name -> Q -> DQ -> name + "_dq"; readers use the DQ output.
    dq_name = {}
    for name, (scale, zp) in params.items():
        s, z = name + "_scale", name + "_zp"
        new_inits += [numpy_helper.from_array(np.array(scale, np.float32), s),
                      numpy_helper.from_array(np.array(zp, np.uint8), z)]
        dq_name[name] = name + "_dq"

    def qdq_after(name):
        s, z = name + "_scale", name + "_zp"
        return [helper.make_node("QuantizeLinear", [name, s, z], [name + "_q"]),
                helper.make_node("DequantizeLinear", [name + "_q", s, z], [name + "_dq"])]

    for name in params:
        if name in [i.name for i in g.input]:
            nodes += qdq_after(name)
    for n in g.node:
        if n.op_type == "Conv":
            x = n.input[0]
            w = numpy_helper.to_array(inits[n.input[1]]).astype(np.float32)
            w_scale = np.maximum(np.abs(w).reshape(w.shape[0], -1).max(axis=1), 1e-8).astype(np.float32) / np.float32(127)
            wq = np.clip(np.round(w / w_scale.reshape(-1, *([1] * (w.ndim - 1)))), -127, 127).astype(np.int8)
            wn = n.input[1]
            new_inits += [numpy_helper.from_array(wq, wn + "_q"), numpy_helper.from_array(w_scale, wn + "_scale")]
            nodes.append(helper.make_node("DequantizeLinear", [wn + "_q", wn + "_scale"], [wn + "_dq"], axis=0))
            inputs = [dq_name[x], wn + "_dq"]
            if len(n.input) > 2 and n.input[2]:
                b = numpy_helper.to_array(inits[n.input[2]]).astype(np.float32)
                b_scale = (np.float32(params[x][0]) * w_scale).astype(np.float32)
                bq = np.round(b / b_scale).astype(np.int32)
                bn = n.input[2]
                new_inits += [numpy_helper.from_array(bq, bn + "_q"), numpy_helper.from_array(b_scale, bn + "_scale")]
                nodes.append(helper.make_node("DequantizeLinear", [bn + "_q", bn + "_scale"], [bn + "_dq"], axis=0))
                inputs.append(bn + "_dq")
            conv = helper.make_node("Conv", inputs, list(n.output), name=n.name)
            conv.attribute.extend(n.attribute)
            nodes.append(conv)
        else:
            node = onnx.NodeProto()
            node.CopyFrom(n)
            # Readers of a quantized tensor (other than its Q) read the DQ output.
            for i, name in enumerate(node.input):
                if name in dq_name:
                    node.input[i] = dq_name[name]
            nodes.append(node)
        for out in n.output:
            if out in params:
                nodes += qdq_after(out)
    used = {i for nd in nodes for i in nd.input}
    keep_inits = [t for t in g.initializer if t.name in used]
    g.ClearField("node")
    g.node.extend(nodes)
    g.ClearField("initializer")
    g.initializer.extend(keep_inits + new_inits)
    onnx.checker.check_model(m)
    onnx.save(m, out_path)


def main(argv):
    if len(argv) >= 5 and argv[0] == "probe":
        samples = int(argv[argv.index("--samples") + 1]) if "--samples" in argv else 100
        probe(argv[1], argv[2], argv[3], argv[4], samples)
    elif len(argv) == 4 and argv[0] == "build":
        build(argv[1], argv[2], argv[3])
    else:
        sys.stderr.write(__doc__)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
