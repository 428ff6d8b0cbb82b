"""minigrad: a from-scratch deep-learning framework on NumPy (CuPy on GPU).

The names follow PyTorch: ``minigrad.tensor``, ``minigrad.no_grad``, ``minigrad.grad``,
``x.backward()``, ``minigrad.nn``, ``minigrad.optim`` ... so what you learn here
transfers, and every op can be checked against PyTorch.
"""

# _allocator: see its docstring; accelerator, backends, cuda: PyTorch's device namespaces
from . import _allocator, accelerator, backends, cuda, distributions, dtypes, linalg, nn, optim, utils, viz
from ._printing import get_printoptions, set_printoptions
from .anomaly import detect_anomaly, is_anomaly_enabled
from .autograd import Function, backward, grad
from .autograd import functional as _autograd_functional  # noqa: F401  (minigrad.autograd.functional)
from .backend import cuda_is_available, device, get_array_module
from .creation import (
    arange,
    as_tensor,
    bernoulli,
    empty,
    empty_like,
    eye,
    from_numpy,
    full,
    full_like,
    linspace,
    multinomial,
    normal,
    ones,
    ones_like,
    rand,
    rand_like,
    randint,
    randint_like,
    randn,
    randn_like,
    randperm,
    tensor,
    zeros,
    zeros_like,
)
from .dtypes import (
    bool_,
    double,
    float16,
    float32,
    float64,
    get_default_dtype,
    half,
    int8,
    int16,
    int32,
    int64,
    long,
    set_default_dtype,
    short,
    uint8,
)
from .grad_mode import (
    enable_grad,
    inference_mode,
    is_grad_enabled,
    is_inference_mode_enabled,
    no_grad,
    set_grad_enabled,
)
from .gradcheck import GradcheckError, gradcheck, gradgradcheck
from .ops import *  # noqa: F403  (every op as a function)
from .ops import abs, all, any, max, min, pow, round, sum  # noqa: F401  (names that shadow builtins)
from .random import Generator, get_rng_state, manual_seed, seed, set_rng_state
from .serialization import load, save
from .tensor import Tensor

float = float32  # noqa: A001  (PyTorch's aliases: minigrad.float is float32)
int = int32  # noqa: A001
bool = bool_  # noqa: A001

__version__ = "0.1.0"
