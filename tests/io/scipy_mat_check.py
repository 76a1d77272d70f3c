#!/usr/bin/env python3
"""scipy side of tests/io/test_mat.cpp: both sides build the same arrays from one formula (C order, see expected()),
so a layout error on either side shows up as different values.

  scipy_mat_check.py check <file.mat> <name>...   loadmat and compare the named variables (dtype, shape, values)
  scipy_mat_check.py write <dir>                  savemat every array to <dir>/compressed.mat and <dir>/plain.mat
"""
import sys

import numpy as np
import scipy.io

# name -> (numpy dtype, shape, modulus, low): value = (37 * flat + 11) % modulus + low for integers, that / 7 - 3
# for floats; bool = value % 2.
ARRAYS = {
    "u8_2d": (np.uint8, (5, 7), 256, 0),
    "i8_3d": (np.int8, (3, 4, 2), 200, -100),
    "i16_2d": (np.int16, (4, 3), 60000, -30000),
    "i32_3d": (np.int32, (6, 5, 2), 3, -1),
    "i64_2d": (np.int64, (3, 4), 2**40, -(2**39)),
    "f32_2d": (np.float32, (4, 5), 101, 0),
    "f64_3d": (np.float64, (2, 3, 4), 101, 0),
    "bool_2d": (np.bool_, (3, 3), 2, 0),
    "u16_2d": (np.uint16, (2, 5), 65536, 0),
    "u32_2d": (np.uint32, (3, 2), 2**32, 0),
    "u64_2d": (np.uint64, (2, 2), 2**40, 0),
    "scalar": (np.int64, (1, 1), 1, 2),
}
# Written by scipy only (boundseg reads them into wider dtypes).
SCIPY_ONLY = ("u16_2d", "u32_2d", "u64_2d")


def expected(name):
    dtype, shape, modulus, low = ARRAYS[name]
    flat = (np.arange(int(np.prod(shape)), dtype=np.int64) * 37 + 11) % modulus + low
    if dtype in (np.float32, np.float64):
        return (flat.astype(np.float64) / 7.0 - 3.0).astype(dtype).reshape(shape)
    return flat.astype(dtype).reshape(shape)


def check(path, names):
    data = scipy.io.loadmat(path)
    for name in names:
        got, want = data[name], expected(name)
        if want.dtype == np.bool_:
            want = want.astype(np.uint8)  # loadmat returns MATLAB logical arrays as uint8 (0/1)
        if got.dtype != want.dtype or got.shape != want.shape or not np.array_equal(got, want):
            print(f"{name}: got {got.dtype} {got.shape} {got.ravel()[:8]}, want {want.dtype} {want.shape} "
                  f"{want.ravel()[:8]}")
            return 1
    print("OK", len(names))
    return 0


def write(folder):
    arrays = {name: expected(name) for name in ARRAYS}
    scipy.io.savemat(f"{folder}/compressed.mat", arrays, do_compression=True)
    scipy.io.savemat(f"{folder}/plain.mat", arrays, do_compression=False)
    # Variables boundseg must refuse, each in its own file.
    scipy.io.savemat(f"{folder}/char.mat", {"text": "abc"})
    scipy.io.savemat(f"{folder}/complex.mat", {"z": np.array([[1 + 2j]])})
    cell = np.empty((1, 2), dtype=object)
    cell[0, 0], cell[0, 1] = np.zeros((1, 1)), np.ones((1, 2))
    scipy.io.savemat(f"{folder}/cell.mat", {"c": cell})
    print("OK")
    return 0


if __name__ == "__main__":
    if sys.argv[1] == "check":
        sys.exit(check(sys.argv[2], sys.argv[3:]))
    sys.exit(write(sys.argv[2]))
