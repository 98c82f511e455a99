#!/usr/bin/python3
"""A full-size MobileNetV2 (3.5 M parameters, 224x224, 1000 classes) with seeded random weights,
exported to ONNX (opset 13) for size and speed benchmarks at a realistic scale: the bundled models
are tiny, so fixed per-channel overheads (scales, int32 biases, graph) weigh more in them than in
real networks. Needs Debian's python3-torch; not used by nncompress itself.
  tools/bench/make_mobilenet_v2.py OUT.onnx
"""
import sys

import torch
from torch import nn


def conv_bn(inp, out, kernel, stride, groups=1, relu=True):
    layers = [nn.Conv2d(inp, out, kernel, stride, kernel // 2, groups=groups, bias=False), nn.BatchNorm2d(out)]
    if relu:
        layers.append(nn.ReLU6(inplace=True))
    return layers


class InvertedResidual(nn.Module):
    def __init__(self, inp, out, stride, expand):
        super().__init__()
        hidden = inp * expand
        layers = conv_bn(inp, hidden, 1, 1) if expand != 1 else []
        layers += conv_bn(hidden, hidden, 3, stride, groups=hidden)
        layers += conv_bn(hidden, out, 1, 1, relu=False)
        self.body = nn.Sequential(*layers)
        self.residual = stride == 1 and inp == out

    def forward(self, x):
        return x + self.body(x) if self.residual else self.body(x)


class MobileNetV2(nn.Module):
    # (expansion, channels, repeats, first stride), as in Sandler et al. 2018, table 2
    SETTINGS = [(1, 16, 1, 1), (6, 24, 2, 2), (6, 32, 3, 2), (6, 64, 4, 2), (6, 96, 3, 1), (6, 160, 3, 2), (6, 320, 1, 1)]

    def __init__(self, classes=1000):
        super().__init__()
        layers = conv_bn(3, 32, 3, 2)
        inp = 32
        for expand, channels, repeats, stride in self.SETTINGS:
            for i in range(repeats):
                layers.append(InvertedResidual(inp, channels, stride if i == 0 else 1, expand))
                inp = channels
        layers += conv_bn(inp, 1280, 1, 1)
        self.features = nn.Sequential(*layers)
        self.classifier = nn.Linear(1280, classes)

    def forward(self, x):
        x = self.features(x).mean([2, 3])
        return self.classifier(x)


def main():
    if len(sys.argv) != 2:
        sys.exit(__doc__)
    torch.manual_seed(0)
    model = MobileNetV2().eval()
    # Non-trivial BatchNorm statistics, so folding them changes the weights as in a trained net.
    for m in model.modules():
        if isinstance(m, nn.BatchNorm2d):
            m.running_mean.uniform_(-0.5, 0.5)
            m.running_var.uniform_(0.5, 2.0)
            m.weight.data.uniform_(0.5, 1.5)
            m.bias.data.uniform_(-0.2, 0.2)
    x = torch.randn(1, 3, 224, 224)
    torch.onnx.export(model, x, sys.argv[1], opset_version=13, input_names=["input"], output_names=["logits"],
                      dynamic_axes={"input": {0: "N"}, "logits": {0: "N"}})


if __name__ == "__main__":
    main()
