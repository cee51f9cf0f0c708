"""A TorchDispatchMode that records every aten operation (tests of graph-safe steps and of
operation counts): `ops` is [(op, ((shape, dtype) of each tensor argument))], `syncs` the
operations that wait for the device or give data-dependent shapes."""

from __future__ import annotations

import torch
from torch.utils._python_dispatch import TorchDispatchMode

SYNCS = {
    "aten._local_scalar_dense", "aten.item", "aten.is_nonzero", "aten.equal", "aten.nonzero",
    "aten.nonzero_static", "aten.masked_select", "aten._unique", "aten._unique2", "aten.unique_dim",
    "aten.unique_consecutive", "aten.allclose", "aten.repeat_interleave",
}
# Operations that launch no kernel: views and allocations.
NO_KERNEL = {
    "aten.view", "aten._unsafe_view", "aten.select", "aten.slice", "aten.transpose", "aten.permute",
    "aten.t", "aten.split", "aten.unbind", "aten.expand", "aten.unsqueeze", "aten.squeeze",
    "aten.alias", "aten.as_strided", "aten.detach", "aten.empty", "aten.empty_strided", "aten.resize_",
    "aten.lift_fresh",
}


class Recorder(TorchDispatchMode):
    def __init__(self):
        super().__init__()
        self.ops, self.syncs = [], []

    def __torch_dispatch__(self, func, types, args=(), kwargs=None):
        name = str(func.overloadpacket._qualified_op_name).replace("::", ".")
        if name in SYNCS:
            self.syncs.append(name)
        tensors = [a for a in torch.utils._pytree.tree_leaves((args, kwargs or {})) if isinstance(a, torch.Tensor)]
        self.ops.append((str(func), tuple((tuple(t.shape), t.dtype) for t in tensors)))
        return func(*args, **(kwargs or {}))

    def kernels(self) -> list:
        """The recorded operations that launch work (views and allocations left out)."""
        return [op for op, _ in self.ops if op.rsplit(".", 1)[0] not in NO_KERNEL]
