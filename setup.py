"""Build script: maps the top-level folders into one ``qserv`` namespace and compiles the
Cython kernels of ``cython_ext/`` into ``qserv._ext``."""

from pathlib import Path

import numpy
from Cython.Build import cythonize
from setuptools import Extension, find_packages, setup

HERE = Path(__file__).parent

# Top-level folder -> sub-package of qserv (DESIGN.md section 2).
SUBPACKAGE_FOLDERS = {
    "schema": "qserv.schema",
    "ingest": "qserv.ingest",
    "payloads": "qserv.payloads",
    "api": "qserv.api",
    "migrations": "qserv.migrations",
}


def discover_packages():
    packages = ["qserv"] + [f"qserv.{name}" for name in find_packages(where="qserv")]
    package_dir = {"qserv": "qserv"}
    for folder, package in SUBPACKAGE_FOLDERS.items():
        package_dir[package] = folder
        packages.append(package)
        for sub in find_packages(where=folder):
            packages.append(f"{package}.{sub}")
    return packages, package_dir


def kernel_extensions():
    sources = sorted((HERE / "cython_ext").glob("*.pyx"))
    if not sources:
        raise RuntimeError("no Cython sources found in cython_ext/")
    extensions = [
        Extension(
            f"qserv._ext.{source.stem}",
            [str(source.relative_to(HERE))],
            include_dirs=[numpy.get_include(), "cython_ext"],
            define_macros=[("NPY_NO_DEPRECATED_API", "NPY_1_7_API_VERSION")],
            extra_compile_args=["-O3", "-fno-math-errno"],
        )
        for source in sources
    ]
    return cythonize(
        extensions,
        language_level=3,
        compiler_directives={"boundscheck": False, "wraparound": False, "cdivision": True},
    )


packages, package_dir = discover_packages()
setup(
    packages=packages,
    package_dir=package_dir,
    package_data={"qserv.migrations": ["script.py.mako"], "qserv.api.console": ["static/*"]},
    ext_modules=kernel_extensions(),
)
