"""Training that does not depend on the number of processes: sampler, batch norm, 2-process DDP."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys

import numpy as np
import pandas as pd
import pytest
import torch
import torch.distributed as dist
import torch.multiprocessing as mp
import yaml
from torch import nn

from pipeline.encoders.batchnorm_sync import GlobalBatchNorm, GlobalBatchNormSync
from pipeline.encoders.datamodule import EpochSampler

STAGE = ("stages", "train.py")


def global_batches(n_items, batch, seed, epoch, world):
    """The sets of trials of each global batch, from the per-rank samplers."""
    shares = []
    for rank in range(world):
        sampler = EpochSampler(n_items, batch, seed, rank, world)
        sampler.set_epoch(epoch)
        shares.append(np.array(list(sampler)).reshape(-1, batch // world))  # (n_batches, b)
    return [frozenset(np.concatenate(parts)) for parts in zip(*shares, strict=True)]


def test_sampler_gives_the_same_global_batches_whatever_the_world_size():
    one = global_batches(38, 12, seed=3, epoch=5, world=1)
    assert len(one) == 3 and all(len(batch) == 12 for batch in one)  # 2 left over, dropped
    assert len(frozenset().union(*one)) == 36
    for world in (2, 3, 4):
        assert global_batches(38, 12, seed=3, epoch=5, world=world) == one


def test_sampler_draws_a_new_permutation_per_epoch_from_the_seed():
    orders = {}
    for seed, epoch in [(0, 0), (0, 1), (1, 0), (0, 0)]:
        sampler = EpochSampler(20, 4, seed)
        sampler.set_epoch(epoch)
        orders.setdefault((seed, epoch), []).append(list(sampler))
    assert orders[(0, 0)][0] == orders[(0, 0)][1]
    assert len({tuple(order[0]) for order in orders.values()}) == 3


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _batchnorm_worker(rank: int, world: int, port: int, queue) -> None:
    os.environ.update(MASTER_ADDR="127.0.0.1", MASTER_PORT=str(port))
    dist.init_process_group("gloo", rank=rank, world_size=world)
    torch.manual_seed(0)
    x = torch.randn(12, 3, 10) * 3 + 1  # (B, C, T), the global batch
    weight = torch.randn(12, 3, 10)
    model = GlobalBatchNormSync().apply(nn.Sequential(nn.BatchNorm1d(3)))
    share = x[rank::world].clone().requires_grad_()
    out = model(share)
    (out * weight[rank::world]).sum().backward()  # this rank's part of the global loss
    grad_affine = torch.cat([model[0].weight.grad, model[0].bias.grad])
    dist.all_reduce(grad_affine)
    synced = type(model[0])
    reverted = GlobalBatchNormSync().revert(model)
    arrays = [out.detach(), share.grad, grad_affine, reverted[0].running_mean,
              reverted[0].running_var]
    queue.put((rank, *(array.numpy() for array in arrays), synced, type(reverted[0])))
    dist.destroy_process_group()


@pytest.mark.slow
def test_global_batchnorm_normalises_with_the_statistics_of_every_process():
    """Outputs, input and affine gradients and running statistics of 2 gloo processes equal
    those of one BatchNorm1d over the whole batch (to 1e-5)."""
    world = 2
    queue = mp.get_context("spawn").SimpleQueue()
    mp.spawn(_batchnorm_worker, args=(world, _free_port(), queue), nprocs=world)
    results = sorted(queue.get() for _ in range(world))
    torch.manual_seed(0)
    x = (torch.randn(12, 3, 10) * 3 + 1).requires_grad_()
    weight = torch.randn(12, 3, 10)
    reference = nn.BatchNorm1d(3)
    out = reference(x)
    (out * weight).sum().backward()
    grad_affine = torch.cat([reference.weight.grad, reference.bias.grad])
    expected = {"out": out.detach(), "grad": x.grad, "affine": grad_affine,
                "mean": reference.running_mean, "var": reference.running_var}
    for rank, *arrays, synced, reverted in results:
        assert synced is GlobalBatchNorm and reverted is nn.BatchNorm1d
        for (name, value), array in zip(expected.items(), arrays, strict=True):
            share = value[rank::world] if name in ("out", "grad") else value
            np.testing.assert_allclose(array, share.numpy(), rtol=1e-5, atol=1e-5,
                                       err_msg=name)


def run_stage(project_root, study, params, out):
    command = [sys.executable, str(project_root.joinpath(*STAGE)), "--params", str(params),
               "--preprocessed", str(study["preprocessed"]), "--targets", str(study["targets"]),
               "--out", str(out), "--checkpoints", str(out.parent / f"{out.name}_checkpoints")]
    result = subprocess.run(command, capture_output=True, text=True, timeout=600,
                            cwd=out.parent)
    assert result.returncode == 0, result.stderr[-3000:]
    return result.stderr


@pytest.mark.slow
def test_two_process_ddp_matches_one_process(make_synthetic_study, project_root, tmp_path):
    """`python stages/train.py` with strategy ddp on 2 CPU processes (gloo) against 1 process.

    Tolerance: per-epoch train and val losses within 1e-5 relative, val top-1 equal. The
    global batches, loss negatives (gathered) and learning rate are the same, so only the
    order of floating-point sums differs (observed: 5e-7 relative). The encoder is the MLP:
    EEGNet and the conv encoder have parameters whose true gradient is zero (a BN affine
    before a linear map and BN; a conv bias before BN); Adam turns the rounding noise of
    those gradients into steps that shift the BN running means, so their validation loss
    differs by ~1e-3 between 1 and 2 processes, as it does between 1 and 2 CPU threads.
    """
    study = make_synthetic_study("study")
    train = {"seed": 0, "batch_size": 12, "max_epochs": 4, "patience": 10, "lr": 3e-3,
             "accelerator": "cpu", "num_threads": 1,
             "encoder": {"name": "mlp", "options": {"mlp": {"hidden": 32, "dropout": 0.0}}}}
    histories, summaries = {}, {}
    for name, hardware in {"one": {"devices": 1}, "two": {"devices": 2, "strategy": "ddp"}}.items():
        params = tmp_path / f"{name}.yaml"
        params.write_text(yaml.safe_dump({"train": {**train, **hardware}}))
        log = run_stage(project_root, study, params, tmp_path / name)
        assert log.count("epoch 3:") == 1, "every rank but 0 is quiet"
        histories[name] = pd.read_csv(tmp_path / name / "history.csv")
        summaries[name] = json.loads((tmp_path / name / "train.json").read_text())
    assert sorted(path.name for path in tmp_path.iterdir()) == ["one", "one.yaml", "study",
                                                               "two", "two.yaml"]
    one, two = histories["one"], histories["two"]
    assert len(one) == len(two) == 4
    for column in ("train_loss", "val_loss", "temperature"):
        np.testing.assert_allclose(two[column], one[column], rtol=1e-5, err_msg=column)
    np.testing.assert_array_equal(two["val_top1"], one["val_top1"])
    assert summaries["two"]["val_top1"] == summaries["one"]["val_top1"]
    assert summaries["two"]["best_epoch"] == summaries["one"]["best_epoch"]
