"""Helpers written against `from torch.nn.functional import *`."""

import torch
from torch.nn.functional import *


def scaled(logits, scale):
    return torch.tanh(dropout(logits, p=0.0, training=False) * scale) * 30.0
