"""Compiled Cython kernels (built from ``cython_ext/``). Import them through ``qserv.kernels``,
which explains how to build them when they are missing."""
