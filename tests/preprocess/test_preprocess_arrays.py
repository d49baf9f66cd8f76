"""RowStackWriter: blocks written one at a time come back as one memory-mappable array."""

import numpy as np

from pipeline.preprocess.arrays import RowStackWriter


def test_blocks_are_stacked_in_order_as_float32(tmp_path):
    rng = np.random.default_rng(0)
    blocks = [rng.standard_normal((rows, 3, 4)) for rows in (5, 1, 7)]
    writer = RowStackWriter(tmp_path / "epochs.npy")
    for block in blocks:
        writer.append(block)
    assert writer.close() == (13, 3, 4)
    stacked = np.load(tmp_path / "epochs.npy", mmap_mode="r")
    assert stacked.dtype == np.float32
    assert np.array_equal(stacked, np.concatenate(blocks).astype(np.float32))
    assert [path.name for path in tmp_path.iterdir()] == ["epochs.npy"]
