"""Probability distributions with PyTorch's ``torch.distributions`` API.

``Normal(loc, scale).rsample()`` is differentiable in loc and scale (reparameterisation);
``log_prob``, ``entropy`` and ``kl_divergence`` are built from differentiable minigrad ops, so
gradients of any order come free. Sampling draws from minigrad's global RNG (``mg.manual_seed``).
"""

from . import constraints, transforms
from .bernoulli import Bernoulli
from .beta import Beta
from .categorical import Categorical
from .distribution import Distribution
from .independent import Independent
from .kl import kl_divergence, register_kl
from .multivariate_normal import MultivariateNormal
from .normal import Normal
from .transformed_distribution import TransformedDistribution
from .transforms import AffineTransform, ExpTransform, SigmoidTransform, TanhTransform, Transform
from .uniform import Uniform

__all__ = [
    "AffineTransform",
    "Bernoulli",
    "Beta",
    "Categorical",
    "Distribution",
    "ExpTransform",
    "Independent",
    "MultivariateNormal",
    "Normal",
    "SigmoidTransform",
    "TanhTransform",
    "Transform",
    "TransformedDistribution",
    "Uniform",
    "constraints",
    "kl_divergence",
    "register_kl",
    "transforms",
]
