#!/usr/bin/python3
"""Regenerate the small test models and data splits under models/.

This script is for REGENERATION ONLY: the C++ build and tests of nncompress
only consume the committed .onnx / .npy files and never run Python.

Requirements (Debian 12): /usr/bin/python3 with python3-torch (1.13),
python3-onnx (1.12), python3-numpy, and the Debian package
dataset-fashion-mnist (idx files in /usr/share/datasets/fashion-mnist/).

    /usr/bin/python3 models/make_models.py            # train + export all
    /usr/bin/python3 models/make_models.py --only mlp # a subset

Every model is trained on Fashion-MNIST and takes RAW pixels scaled to
[0,1] (i.e. uint8 / 255) as input "input" [N,1,28,28] float32; the
dataset mean/std normalisation is the first op *inside* each model.
Output is "logits" [N,10] float32.

Outputs (all relative to this file's directory):
    *.onnx                      the five models
    data/*.npy                  evaluation / calibration splits (uint8 images)
    data/ref/*_logits_test_first64.npy  torch float32 reference logits
    models.json                 machine-readable summary (accuracy, ops, ...)
    README.md                   human-readable summary (generated)
"""

import argparse
import collections
import gzip
import hashlib
import json
import os
import random
import struct
import sys
import time

import numpy as np
import onnx
import torch
import torch.nn as nn
import torch.nn.functional as F

HERE = os.path.dirname(os.path.abspath(__file__))
OUT = HERE          # output directory (--out), defaults to models/ itself
FMNIST_DIR = "/usr/share/datasets/fashion-mnist"

# Fashion-MNIST training-set statistics of x/255 (rounded; computed values are
# asserted below). They are baked into every model as its first op.
FMNIST_MEAN = 0.2860
FMNIST_STD = 0.3530

SEED = 1234
NUM_THREADS = 2
BATCH = 128

FMNIST_CLASSES = ["T-shirt/top", "Trouser", "Pullover", "Dress", "Coat",
                  "Sandal", "Shirt", "Sneaker", "Bag", "Ankle boot"]


# --------------------------------------------------------------------------
# determinism
# --------------------------------------------------------------------------
def seed_everything(seed):
    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)


def setup_determinism():
    os.environ.setdefault("CUBLAS_WORKSPACE_CONFIG", ":4096:8")
    torch.set_num_threads(NUM_THREADS)
    torch.use_deterministic_algorithms(True)
    torch.backends.cudnn.deterministic = True
    torch.backends.cudnn.benchmark = False
    seed_everything(SEED)


# --------------------------------------------------------------------------
# data
# --------------------------------------------------------------------------
def read_idx(path):
    with gzip.open(path, "rb") as f:
        raw = f.read()
    zero, dtype_code, ndim = struct.unpack(">HBB", raw[:4])
    assert zero == 0 and dtype_code == 0x08, "expected unsigned-byte idx file"
    dims = struct.unpack(">" + "I" * ndim, raw[4:4 + 4 * ndim])
    arr = np.frombuffer(raw, dtype=np.uint8, offset=4 + 4 * ndim)
    return arr.reshape(dims).copy()


def load_fashion_mnist():
    tr_x = read_idx(os.path.join(FMNIST_DIR, "train-images-idx3-ubyte.gz"))
    tr_y = read_idx(os.path.join(FMNIST_DIR, "train-labels-idx1-ubyte.gz"))
    te_x = read_idx(os.path.join(FMNIST_DIR, "t10k-images-idx3-ubyte.gz"))
    te_y = read_idx(os.path.join(FMNIST_DIR, "t10k-labels-idx1-ubyte.gz"))
    assert tr_x.shape == (60000, 28, 28) and te_x.shape == (10000, 28, 28)
    tr_x = tr_x.reshape(-1, 1, 28, 28)
    te_x = te_x.reshape(-1, 1, 28, 28)
    return tr_x, tr_y.astype(np.int64), te_x, te_y.astype(np.int64)


def to_float(x_u8):
    """uint8 [N,1,28,28] -> float32 tensor in [0,1] (the model input format)."""
    return torch.from_numpy(x_u8.astype(np.float32) / np.float32(255.0))


def data_dir():
    return os.path.join(OUT, "data")


def ref_dir():
    return os.path.join(OUT, "data", "ref")


def write_data_splits(tr_x, tr_y, te_x, te_y):
    os.makedirs(data_dir(), exist_ok=True)
    files = {
        "fashion_mnist_test_2000_x.npy": np.ascontiguousarray(te_x[:2000], dtype=np.uint8),
        "fashion_mnist_test_2000_y.npy": np.ascontiguousarray(te_y[:2000], dtype=np.int64),
        "fashion_mnist_calib_500_x.npy": np.ascontiguousarray(tr_x[:500], dtype=np.uint8),
        "fashion_mnist_calib_500_y.npy": np.ascontiguousarray(tr_y[:500], dtype=np.int64),
    }
    for name, arr in files.items():
        np.save(os.path.join(data_dir(), name), arr, allow_pickle=False)
    return sorted(files)


# --------------------------------------------------------------------------
# models
# --------------------------------------------------------------------------
class Normalize(nn.Module):
    """(x - mean) / std with x = raw/255; exported as Sub + Div (first ops)."""

    def __init__(self, mean=FMNIST_MEAN, std=FMNIST_STD):
        super().__init__()
        self.register_buffer("mean", torch.tensor(mean, dtype=torch.float32).reshape(1, 1, 1, 1))
        self.register_buffer("std", torch.tensor(std, dtype=torch.float32).reshape(1, 1, 1, 1))

    def forward(self, x):
        return (x - self.mean) / self.std


def conv_bn_relu(cin, cout, k=3, stride=1):
    return nn.Sequential(
        nn.Conv2d(cin, cout, k, stride=stride, padding=k // 2, bias=False),
        nn.BatchNorm2d(cout),
        nn.ReLU(inplace=False),
    )


class CnnBN(nn.Module):
    """Conv-BN-ReLU x3 with MaxPools, Flatten, Gemm-ReLU-Gemm."""

    def __init__(self):
        super().__init__()
        self.norm = Normalize()
        self.features = nn.Sequential(
            conv_bn_relu(1, 32),          # 28x28
            nn.MaxPool2d(2),              # 14x14
            conv_bn_relu(32, 64),
            nn.MaxPool2d(2),              # 7x7
            conv_bn_relu(64, 64),
            nn.MaxPool2d(2),              # 3x3
        )
        self.flatten = nn.Flatten(1)
        self.fc1 = nn.Linear(64 * 3 * 3, 128)
        self.relu = nn.ReLU()
        self.fc2 = nn.Linear(128, 10)

    def forward(self, x):
        x = self.features(self.norm(x))
        return self.fc2(self.relu(self.fc1(self.flatten(x))))


class BasicBlock(nn.Module):
    def __init__(self, cin, cout, stride=1):
        super().__init__()
        self.conv1 = nn.Conv2d(cin, cout, 3, stride=stride, padding=1, bias=False)
        self.bn1 = nn.BatchNorm2d(cout)
        self.conv2 = nn.Conv2d(cout, cout, 3, stride=1, padding=1, bias=False)
        self.bn2 = nn.BatchNorm2d(cout)
        self.shortcut = None
        if stride != 1 or cin != cout:
            self.shortcut = nn.Sequential(
                nn.Conv2d(cin, cout, 1, stride=stride, bias=False),
                nn.BatchNorm2d(cout),
            )

    def forward(self, x):
        out = F.relu(self.bn1(self.conv1(x)))
        out = self.bn2(self.conv2(out))
        sc = x if self.shortcut is None else self.shortcut(x)
        return F.relu(out + sc)


class ResNetSmall(nn.Module):
    """stem conv3x3(32)+BN+ReLU @28x28, MaxPool -> 14x14,
    BasicBlock(32), BasicBlock(32), BasicBlock(32->64, stride 2, 1x1 projection),
    BasicBlock(64) @7x7, GlobalAveragePool, Gemm."""

    def __init__(self):
        super().__init__()
        self.norm = Normalize()
        self.stem = conv_bn_relu(1, 32)
        self.pool = nn.MaxPool2d(2)
        self.layer1 = nn.Sequential(BasicBlock(32, 32), BasicBlock(32, 32))
        self.layer2 = nn.Sequential(BasicBlock(32, 64, stride=2), BasicBlock(64, 64))
        self.gap = nn.AdaptiveAvgPool2d(1)
        self.flatten = nn.Flatten(1)
        self.fc = nn.Linear(64, 10)

    def forward(self, x):
        x = self.pool(self.stem(self.norm(x)))
        x = self.layer2(self.layer1(x))
        return self.fc(self.flatten(self.gap(x)))


def dw_separable(cin, cout, stride):
    return nn.Sequential(
        nn.Conv2d(cin, cin, 3, stride=stride, padding=1, groups=cin, bias=False),  # depthwise
        nn.BatchNorm2d(cin),
        nn.ReLU6(),
        nn.Conv2d(cin, cout, 1, bias=False),  # pointwise
        nn.BatchNorm2d(cout),
        nn.ReLU6(),
    )


class MobileNetSmall(nn.Module):
    """stem conv3x3(32)+BN+ReLU6, 5 depthwise-separable blocks
    (32->64 s2, 64->64, 64->128 s2, 128->128, 128->128), GAP, Gemm."""

    def __init__(self):
        super().__init__()
        self.norm = Normalize()
        self.stem = nn.Sequential(
            nn.Conv2d(1, 32, 3, padding=1, bias=False), nn.BatchNorm2d(32), nn.ReLU6())
        self.blocks = nn.Sequential(
            dw_separable(32, 64, 2),    # 14x14
            dw_separable(64, 64, 1),
            dw_separable(64, 128, 2),   # 7x7
            dw_separable(128, 128, 1),
            dw_separable(128, 128, 1),
        )
        self.gap = nn.AdaptiveAvgPool2d(1)
        self.flatten = nn.Flatten(1)
        self.fc = nn.Linear(128, 10)

    def forward(self, x):
        x = self.blocks(self.stem(self.norm(x)))
        return self.fc(self.flatten(self.gap(x)))


class MLP(nn.Module):
    """Normalize, Flatten, 784-256-128-10 with ReLU."""

    def __init__(self):
        super().__init__()
        self.norm = Normalize()
        self.flatten = nn.Flatten(1)
        self.fc1 = nn.Linear(784, 256)
        self.fc2 = nn.Linear(256, 128)
        self.fc3 = nn.Linear(128, 10)

    def forward(self, x):
        x = self.flatten(self.norm(x))
        x = F.relu(self.fc1(x))
        x = F.relu(self.fc2(x))
        return self.fc3(x)


class MultiHeadSelfAttention(nn.Module):
    """Explicit MHSA: Q/K/V MatMul, Reshape+Transpose into heads,
    MatMul, scale, Softmax, MatMul, Transpose+Reshape back, output MatMul."""

    def __init__(self, dim, heads, tokens):
        super().__init__()
        assert dim % heads == 0
        self.dim, self.heads, self.tokens = dim, heads, tokens
        self.head_dim = dim // heads
        self.scale = float(self.head_dim) ** -0.5
        self.q = nn.Linear(dim, dim)
        self.k = nn.Linear(dim, dim)
        self.v = nn.Linear(dim, dim)
        self.proj = nn.Linear(dim, dim)

    def _split(self, t):
        # [N,T,D] -> [N,H,T,Dh]; batch kept as -1 so the Reshape shape is constant
        return t.reshape(-1, self.tokens, self.heads, self.head_dim).transpose(1, 2)

    def forward(self, x):
        q = self._split(self.q(x))
        k = self._split(self.k(x))
        v = self._split(self.v(x))
        att = torch.matmul(q, k.transpose(-2, -1)) * self.scale   # [N,H,T,T]
        att = torch.softmax(att, dim=-1)
        out = torch.matmul(att, v)                                 # [N,H,T,Dh]
        out = out.transpose(1, 2).reshape(-1, self.tokens, self.dim)
        return self.proj(out)


class EncoderLayer(nn.Module):
    """Pre-norm transformer encoder layer with exact (erf) GELU MLP."""

    def __init__(self, dim, heads, tokens, mlp_dim):
        super().__init__()
        self.ln1 = nn.LayerNorm(dim)
        self.attn = MultiHeadSelfAttention(dim, heads, tokens)
        self.ln2 = nn.LayerNorm(dim)
        self.fc1 = nn.Linear(dim, mlp_dim)
        self.fc2 = nn.Linear(mlp_dim, dim)

    def forward(self, x):
        x = x + self.attn(self.ln1(x))
        x = x + self.fc2(F.gelu(self.fc1(self.ln2(x)), approximate="none"))
        return x


class TinyTransformer(nn.Module):
    """28x28 image -> 16 tokens of 7x7 = 49 pixels (Reshape/Transpose),
    linear patch embedding (49->64), learned positional embedding,
    2 pre-norm encoder layers (4 heads, MLP 128, GELU), final LayerNorm,
    mean pooling over tokens (ReduceMean), Gemm to 10 logits."""

    PATCH = 7
    GRID = 28 // PATCH          # 4
    TOKENS = GRID * GRID        # 16
    PATCH_DIM = PATCH * PATCH   # 49

    def __init__(self, dim=64, heads=4, layers=2, mlp_dim=128):
        super().__init__()
        self.norm = Normalize()
        self.embed = nn.Linear(self.PATCH_DIM, dim)
        self.pos = nn.Parameter(torch.zeros(1, self.TOKENS, dim))
        nn.init.normal_(self.pos, std=0.02)
        self.layers = nn.ModuleList(
            [EncoderLayer(dim, heads, self.TOKENS, mlp_dim) for _ in range(layers)])
        self.ln = nn.LayerNorm(dim)
        self.head = nn.Linear(dim, 10)

    def forward(self, x):
        x = self.norm(x)                                                   # [N,1,28,28]
        g, p = self.GRID, self.PATCH
        x = x.reshape(-1, g, p, g, p)                                      # [N,4,7,4,7]
        x = x.permute(0, 1, 3, 2, 4)                                       # [N,4,4,7,7]
        x = x.reshape(-1, self.TOKENS, self.PATCH_DIM)                     # [N,16,49]
        x = self.embed(x) + self.pos                                       # [N,16,64]
        for layer in self.layers:
            x = layer(x)
        x = self.ln(x).mean(dim=1)                                         # [N,64]
        return self.head(x)


# name -> (constructor, epochs, lr, weight_decay, opset, keep_bn)
MODELS = collections.OrderedDict([
    ("cnn_bn", dict(ctor=CnnBN, epochs=4, lr=2e-3, wd=5e-4, opset=13, keep_bn=True,
                    arch="Normalize(Sub,Div) -> Conv3x3(32)+BN+ReLU -> MaxPool -> "
                         "Conv3x3(64)+BN+ReLU -> MaxPool -> Conv3x3(64)+BN+ReLU -> MaxPool -> "
                         "Flatten(576) -> Gemm(128)+ReLU -> Gemm(10)")),
    ("resnet_small", dict(ctor=ResNetSmall, epochs=2, lr=2e-3, wd=5e-4, opset=13, keep_bn=True,
                          arch="Normalize -> stem Conv3x3(32)+BN+ReLU @28x28 -> MaxPool @14x14 -> "
                               "BasicBlock(32) x2 -> BasicBlock(32->64, stride 2, 1x1 stride-2 "
                               "projection shortcut + BN) @7x7 -> BasicBlock(64) -> "
                               "GlobalAveragePool -> Flatten -> Gemm(10); skip connections are Add")),
    ("mobilenet_small", dict(ctor=MobileNetSmall, epochs=3, lr=3e-3, wd=1e-4, opset=13, keep_bn=True,
                             arch="Normalize -> Conv3x3(32)+BN+ReLU6 -> 5x [depthwise Conv3x3 "
                                  "(group=C)+BN+ReLU6 -> pointwise Conv1x1+BN+ReLU6] "
                                  "(32->64 s2, 64->64, 64->128 s2, 128->128, 128->128) -> "
                                  "GlobalAveragePool -> Flatten -> Gemm(10); ReLU6 = Clip(0,6)")),
    ("mlp", dict(ctor=MLP, epochs=8, lr=1e-3, wd=1e-4, opset=13, keep_bn=False,
                 arch="Normalize -> Flatten(784) -> Gemm(256)+ReLU -> Gemm(128)+ReLU -> Gemm(10)")),
    ("tiny_transformer", dict(ctor=TinyTransformer, epochs=4, lr=2e-3, wd=5e-2, opset=17, keep_bn=False,
                              arch="Normalize -> Reshape/Transpose into 16 tokens of 7x7=49 px -> "
                                   "MatMul+Add embed(64) + learned pos-emb -> 2x pre-norm encoder "
                                   "layer [LayerNormalization, MHSA 4 heads x 16 (Q/K/V MatMul, "
                                   "Reshape+Transpose, MatMul, Mul scale, Softmax, MatMul), "
                                   "residual Add, LayerNormalization, MLP 64-128-64 with exact "
                                   "erf GELU, residual Add] -> LayerNormalization -> ReduceMean "
                                   "over tokens -> Gemm(10)")),
])


# --------------------------------------------------------------------------
# training / evaluation
# --------------------------------------------------------------------------
@torch.no_grad()
def evaluate(model, x_u8, y, bs=1000):
    model.eval()
    correct = 0
    for i in range(0, len(x_u8), bs):
        logits = model(to_float(x_u8[i:i + bs]))
        correct += int((logits.argmax(1).numpy() == y[i:i + bs]).sum())
    return correct / len(x_u8)


def train(name, cfg, tr_x, tr_y, te_x, te_y, log, max_steps=None):
    seed_everything(SEED)
    model = cfg["ctor"]()
    x_all = to_float(tr_x)
    y_all = torch.from_numpy(tr_y)
    n = len(x_all)
    steps_per_epoch = (n + BATCH - 1) // BATCH
    if max_steps:
        steps_per_epoch = min(steps_per_epoch, max_steps)
    opt = torch.optim.AdamW(model.parameters(), lr=cfg["lr"], weight_decay=cfg["wd"])
    sched = torch.optim.lr_scheduler.OneCycleLR(
        opt, max_lr=cfg["lr"], total_steps=cfg["epochs"] * steps_per_epoch, pct_start=0.15)
    gen = torch.Generator().manual_seed(SEED)
    t0, c0 = time.time(), time.process_time()
    for ep in range(cfg["epochs"]):
        model.train()
        perm = torch.randperm(n, generator=gen)
        tot_loss = 0.0
        for s in range(steps_per_epoch):
            idx = perm[s * BATCH:(s + 1) * BATCH]
            xb, yb = x_all[idx], y_all[idx]
            loss = F.cross_entropy(model(xb), yb)
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            sched.step()
            tot_loss += float(loss) * len(idx)
        seen = min(n, steps_per_epoch * BATCH)
        acc = evaluate(model, te_x[:2000], te_y[:2000])
        log(f"  [{name}] epoch {ep + 1}/{cfg['epochs']} loss {tot_loss / seen:.4f} "
            f"test2000 acc {acc * 100:.2f}%  ({time.time() - t0:.1f}s wall, "
            f"{time.process_time() - c0:.1f}s cpu)")
    model.eval()
    return model, time.time() - t0, time.process_time() - c0


def _inline_initializer_identities(m):
    """torch's exporter deduplicates bit-identical initializers and re-creates
    the duplicate with an Identity node (it happens in resnet_small: the two
    BN biases feeding the same residual Add get identical gradients, so they
    stay equal). Replace such Identity nodes by a plain initializer copy so
    every BatchNormalization has its own parameter tensors."""
    inits = {t.name: t for t in m.graph.initializer}
    keep = []
    for node in m.graph.node:
        if node.op_type == "Identity" and node.input[0] in inits:
            t = onnx.TensorProto()
            t.CopyFrom(inits[node.input[0]])
            t.name = node.output[0]
            m.graph.initializer.append(t)
        else:
            keep.append(node)
    del m.graph.node[:]
    m.graph.node.extend(keep)


def export(name, cfg, model):
    path = os.path.join(OUT, name + ".onnx")
    model.eval()
    dummy = torch.zeros(1, 1, 28, 28, dtype=torch.float32)
    kwargs = dict(
        export_params=True,
        opset_version=cfg["opset"],
        input_names=["input"],
        output_names=["logits"],
        dynamic_axes={"input": {0: "N"}, "logits": {0: "N"}},
    )
    if cfg["keep_bn"]:
        # PRESERVE (with the module in eval mode) skips the eval peephole
        # pass that would fuse BatchNorm into Conv, and constant folding is
        # off, so every BatchNorm2d stays a BatchNormalization node using
        # its running statistics.
        kwargs.update(training=torch.onnx.TrainingMode.PRESERVE, do_constant_folding=False)
    else:
        kwargs.update(training=torch.onnx.TrainingMode.EVAL, do_constant_folding=True)
    torch.onnx.export(model, dummy, path, **kwargs)
    # Light normalisation of metadata so the file only depends on the weights.
    m = onnx.load(path)
    m.graph.name = name
    _inline_initializer_identities(m)
    m.doc_string = ("nncompress test model '%s', trained on Fashion-MNIST by "
                    "models/make_models.py; input = raw pixels / 255" % name)
    onnx.save(m, path)
    return path


def inspect_onnx(path, cfg):
    m = onnx.load(path)
    onnx.checker.check_model(m, full_check=True)
    hist = collections.Counter(n.op_type for n in m.graph.node)
    opsets = {(o.domain or "ai.onnx"): o.version for o in m.opset_import}
    inp = m.graph.input[0]
    out = m.graph.output[0]

    def shape(vi):
        return [d.dim_param if d.dim_param else d.dim_value
                for d in vi.type.tensor_type.shape.dim]

    assert inp.name == "input" and shape(inp) == ["N", 1, 28, 28], shape(inp)
    assert inp.type.tensor_type.elem_type == onnx.TensorProto.FLOAT
    assert out.name == "logits" and shape(out) == ["N", 10], shape(out)
    assert len(m.graph.input) == 1, "initializers must not be graph inputs"
    if cfg["keep_bn"]:
        assert hist["BatchNormalization"] > 0, "BatchNormalization was folded away"
    n_init_params = sum(int(np.prod(t.dims)) for t in m.graph.initializer)
    with open(path, "rb") as f:
        data = f.read()
    return dict(
        op_histogram=dict(sorted(hist.items())),
        opset=opsets,
        ir_version=m.ir_version,
        n_nodes=len(m.graph.node),
        n_initializer_elements=n_init_params,
        size_bytes=len(data),
        sha256=hashlib.sha256(data).hexdigest(),
    )


# --------------------------------------------------------------------------
# README
# --------------------------------------------------------------------------
README_HEAD = """\
# Test models for nncompress

**This file is generated by `make_models.py`; edit the script, not this file.**

Small ONNX models used by the nncompress tests and examples. They are
committed as binaries; the C++ build and tests never need Python.
To regenerate (Debian 12, needs `python3-torch` (1.13), `python3-onnx` (1.12),
`python3-numpy` and `dataset-fashion-mnist`; also install
`libopenblas0-pthread`: with Debian's default reference BLAS, torch's
Linear/MatMul training is several times slower):

    /usr/bin/python3 models/make_models.py            # all models (see training times below)
    /usr/bin/python3 models/make_models.py --only mlp # rebuild one model
    /usr/bin/python3 models/make_models.py --out /tmp/m --max-steps 20   # quick smoke test

`models.json` holds the same facts as this file in machine-readable form
(plus SHA-256 of each .onnx). `check_onnx_numpy.py` (numpy + onnx only, no
torch) re-runs every .onnx file with a tiny pure-NumPy interpreter, compares
it with the torch reference logits in `data/ref/` and reports the ONNX
accuracy on the 2000-sample split.

## Conventions (all models)

* Dataset: **Fashion-MNIST** for every model (see `NOTICE-data.md`).
  Classes: {classes}.
* Input `input`: float32 `[N,1,28,28]`, N is a dynamic axis named `N`.
  **Feed raw pixels scaled to [0,1], i.e. `uint8 / 255`.** The dataset
  normalisation `(x - {mean}) / {std}` is already inside every model as its
  first two ops (`Sub`, `Div` with scalar initializers `mean` / `std`).
* Output `logits`: float32 `[N,10]` (no softmax). Prediction = argmax.
* Opset 13 (default domain) for all CNNs and the MLP; `tiny_transformer`
  uses opset 17 so that LayerNorm is a single `LayerNormalization` op.
* All weights are initializers (not graph inputs); `onnx.checker.check_model(
  full_check=True)` passes for every file.
* BatchNorm is **not** folded: `cnn_bn`, `resnet_small` and
  `mobilenet_small` contain real `BatchNormalization` nodes (inference form,
  running mean/var) after each Conv, exported with
  `training=TrainingMode.PRESERVE, do_constant_folding=False` on a module in
  eval mode. Folding BN is left to the tool.
* GELU in the transformer is the exact erf form (`Div`, `Erf`, `Add`, `Mul`).

## Data (`data/`)

| file | dtype / shape | content |
| --- | --- | --- |
| `fashion_mnist_test_2000_x.npy` | uint8 `[2000,1,28,28]` | first 2000 images of the official test set (t10k), raw 0..255 |
| `fashion_mnist_test_2000_y.npy` | int64 `[2000]` | their labels 0..9 |
| `fashion_mnist_calib_500_x.npy` | uint8 `[500,1,28,28]` | first 500 images of the official **training** set (calibration) |
| `fashion_mnist_calib_500_y.npy` | int64 `[500]` | their labels |
| `ref/<model>_logits_test_first64.npy` | float32 `[64,10]` | torch logits of each model on the first 64 test images |

The images are stored as **raw uint8 0..255** (to keep the files small);
the tool must convert them to float32 and **scale by 1/255** before feeding
a model (no mean/std: that is inside the model). Files are standard
`.npy` v1.0, C order, little-endian.

## Models

Accuracies are float32 top-1 computed with torch by the script (the ONNX
file is exported from the same eval-mode module). "test 2000" is the
`data/` split above; "test 10k" is the full official test set.

| file | architecture | params | size (bytes) | opset | epochs | test 2000 | test 10k | train time wall / cpu |
| --- | --- | ---: | ---: | --- | ---: | ---: | ---: | ---: |
"""

NOTICE = """\
# Data notice

## Fashion-MNIST

All models in this directory are trained on, and the files in `data/` are
taken from, **Fashion-MNIST** by Zalando Research
(Han Xiao, Kashif Rasul, Roland Vollgraf: "Fashion-MNIST: a Novel Image
Dataset for Benchmarking Machine Learning Algorithms", arXiv:1708.07747,
2017; https://github.com/zalandoresearch/fashion-mnist), obtained from the
Debian package `dataset-fashion-mnist`.

Fashion-MNIST is released under the **MIT License**:

    The MIT License (MIT)
    Copyright (c) 2017 Zalando SE, https://tech.zalando.com

    Permission is hereby granted, free of charge, to any person obtaining a
    copy of this software and associated documentation files (the
    "Software"), to deal in the Software without restriction, including
    without limitation the rights to use, copy, modify, merge, publish,
    distribute, sublicense, and/or sell copies of the Software, and to
    permit persons to whom the Software is furnished to do so, subject to
    the following conditions:

    The above copyright notice and this permission notice shall be included
    in all copies or substantial portions of the Software.

    THE SOFTWARE IS PROVIDED "AS IS", WITHOUT WARRANTY OF ANY KIND, EXPRESS
    OR IMPLIED, INCLUDING BUT NOT LIMITED TO THE WARRANTIES OF
    MERCHANTABILITY, FITNESS FOR A PARTICULAR PURPOSE AND NONINFRINGEMENT.
    IN NO EVENT SHALL THE AUTHORS OR COPYRIGHT HOLDERS BE LIABLE FOR ANY
    CLAIM, DAMAGES OR OTHER LIABILITY, WHETHER IN AN ACTION OF CONTRACT,
    TORT OR OTHERWISE, ARISING FROM, OUT OF OR IN CONNECTION WITH THE
    SOFTWARE OR THE USE OR OTHER DEALINGS IN THE SOFTWARE.

The model weights are derived from this data; the `.npy` files are
unmodified subsets of it (images and labels, reshaped).

## MNIST

No model or file here currently uses MNIST. If one is added, its
attribution is: MNIST database by Yann LeCun and Corinna Cortes (with
Christopher J.C. Burges), licensed under CC BY-SA 3.0.
"""


def write_readme(summary, total_train_s):
    lines = [README_HEAD.format(
        classes=", ".join("%d=%s" % (i, c) for i, c in enumerate(FMNIST_CLASSES)),
        mean=FMNIST_MEAN, std=FMNIST_STD)]
    for name, s in summary["models"].items():
        opset = ", ".join("%s %d" % kv for kv in s["opset"].items())
        cpu = s.get("train_cpu_seconds")
        lines.append("| `%s.onnx` | %s | %d | %d | %s | %d | %.2f%% | %.2f%% | %.0f s / %s |\n" % (
            name, s["arch"], s["params"], s["size_bytes"], opset, s["epochs"],
            100 * s["acc_test2000"], 100 * s["acc_test10k"], s["train_seconds"],
            "n/a" if cpu is None else "%.0f s" % cpu))
    lines.append("\nTotal training time of the run that produced these files: %.0f s wall "
                 "(torch, 2 threads; wall time depends heavily on machine load). Batch %d, "
                 "AdamW + one-cycle LR, seed %d, no augmentation.\n" % (total_train_s, BATCH, SEED))
    if summary.get("note"):
        lines.append("\n%s\n" % summary["note"])
    lines.append("\n## Op histograms\n\n")
    for name, s in summary["models"].items():
        lines.append("* `%s.onnx` (%d nodes): %s\n" % (
            name, s["n_nodes"],
            ", ".join("%s %d" % kv for kv in s["op_histogram"].items())))
    lines.append("""
## Determinism

The script seeds Python/NumPy/torch, uses
`torch.use_deterministic_algorithms(True)`, `torch.set_num_threads(2)`
and a seeded generator for batch order; export metadata holds no time
stamps. Two short runs (`--max-steps 3 --epochs 1`) gave byte-identical
`.onnx` and `.npy` files; full-length reruns are expected to match on the
same CPU type with the same torch/onnx/OpenBLAS versions but were not
compared byte for byte. Other CPUs, thread counts, BLAS builds or library
versions may give slightly different weights (accuracy within noise).
The `data/*.npy` files depend only on the dataset and are always identical.
""")
    with open(os.path.join(OUT, "README.md"), "w") as f:
        f.write("".join(lines))
    with open(os.path.join(OUT, "NOTICE-data.md"), "w") as f:
        f.write(NOTICE)


# --------------------------------------------------------------------------
def main():
    ap = argparse.ArgumentParser(description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--only", nargs="*", choices=list(MODELS), help="models to (re)build")
    ap.add_argument("--epochs", type=int, default=None, help="override epochs (for quick tests)")
    ap.add_argument("--max-steps", type=int, default=None,
                    help="cap optimizer steps per epoch (quick/determinism smoke tests)")
    ap.add_argument("--out", default=HERE,
                    help="output directory (default: the directory of this script)")
    ap.add_argument("--readme-only", action="store_true",
                    help="only regenerate README.md / NOTICE-data.md from models.json")
    args = ap.parse_args()
    global OUT
    OUT = os.path.abspath(args.out)
    os.makedirs(OUT, exist_ok=True)
    if args.readme_only:
        with open(os.path.join(OUT, "models.json")) as f:
            summary = json.load(f, object_pairs_hook=collections.OrderedDict)
        write_readme(summary, summary["total_train_seconds"])
        return 0

    setup_determinism()

    def log(msg):
        print(msg, flush=True)

    tr_x, tr_y, te_x, te_y = load_fashion_mnist()
    xs = tr_x.astype(np.float64) / 255.0
    assert abs(xs.mean() - FMNIST_MEAN) < 1e-3 and abs(xs.std() - FMNIST_STD) < 1e-3, (
        xs.mean(), xs.std())
    del xs
    log("data files: " + ", ".join(write_data_splits(tr_x, tr_y, te_x, te_y)))
    os.makedirs(ref_dir(), exist_ok=True)

    summary_path = os.path.join(OUT, "models.json")
    summary = {"dataset": "fashion-mnist", "input_scale": "x/255",
               "normalization_in_model": {"mean": FMNIST_MEAN, "std": FMNIST_STD},
               "torch": torch.__version__, "onnx": onnx.__version__, "models": {}}
    if args.only and os.path.exists(summary_path):
        with open(summary_path) as f:
            summary["models"].update(json.load(f).get("models", {}))

    for name, cfg in MODELS.items():
        if args.only and name not in args.only:
            continue
        cfg = dict(cfg)
        if args.epochs is not None:
            cfg["epochs"] = args.epochs
        log("== %s" % name)
        model, secs, cpu_secs = train(name, cfg, tr_x, tr_y, te_x, te_y, log,
                                      max_steps=args.max_steps)
        acc2k = evaluate(model, te_x[:2000], te_y[:2000])
        acc10k = evaluate(model, te_x, te_y)
        with torch.no_grad():
            ref = model(to_float(te_x[:64])).numpy().astype(np.float32)
        np.save(os.path.join(ref_dir(), name + "_logits_test_first64.npy"), ref)
        path = export(name, cfg, model)
        info = inspect_onnx(path, cfg)
        params = sum(p.numel() for p in model.parameters())
        assert info["size_bytes"] < 1_000_000, "%s is too big" % path
        summary["models"][name] = dict(
            arch=cfg["arch"], epochs=cfg["epochs"], params=params,
            acc_test2000=acc2k, acc_test10k=acc10k, train_seconds=round(secs, 1),
            train_cpu_seconds=round(cpu_secs, 1), **info)
        log("  %s: %d bytes, params %d, acc2000 %.2f%%, acc10k %.2f%%, opset %s" % (
            name, info["size_bytes"], params, acc2k * 100, acc10k * 100, info["opset"]))
        log("  ops: %s" % info["op_histogram"])

    # keep the canonical model order
    summary["models"] = collections.OrderedDict(
        (k, summary["models"][k]) for k in MODELS if k in summary["models"])
    total = sum(s["train_seconds"] for s in summary["models"].values())
    summary["total_train_seconds"] = round(total, 1)
    summary["total_train_cpu_seconds"] = round(
        sum(s.get("train_cpu_seconds", 0) for s in summary["models"].values()), 1)
    with open(summary_path, "w") as f:
        json.dump(summary, f, indent=2)
        f.write("\n")
    write_readme(summary, total)
    log("total training time %.1f s" % total)


if __name__ == "__main__":
    sys.exit(main())
