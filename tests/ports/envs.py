"""Two small NumPy environments with gymnasium's reset/step interface, so the RL ports need no downloads.

``CartPole``: the classic cart-pole swing-balance task (Barto, Sutton & Anderson 1983) with the usual
constants, Euler integration at 50 Hz, +1 reward per step, terminated when the pole leans past 12 degrees
or the cart leaves [-2.4, 2.4], truncated after ``max_steps``.

``Reach``: a point on a line must be driven to the origin; action in [-1, 1] moves it by 0.2 * action;
reward -(x^2) - 0.01 * action^2; truncated after 25 steps. A random policy scores about -35, a good one
about -5.
"""

from __future__ import annotations

import math

import numpy as np


class CartPole:
    n_actions, obs_dim = 2, 4
    gravity, mass_cart, mass_pole, half_length, force_mag, dt = 9.8, 1.0, 0.1, 0.5, 10.0, 0.02

    def __init__(self, seed: int = 0, max_steps: int = 200) -> None:
        self.rng = np.random.default_rng(seed)
        self.max_steps = max_steps

    def reset(self) -> tuple[np.ndarray, dict]:
        self.state = self.rng.uniform(-0.05, 0.05, size=4)
        self.t = 0
        return self.state.astype(np.float32), {}

    def step(self, action: int) -> tuple[np.ndarray, float, bool, bool, dict]:
        x, x_dot, theta, theta_dot = self.state
        force = self.force_mag if int(action) == 1 else -self.force_mag
        total_mass = self.mass_cart + self.mass_pole
        pole_ml = self.mass_pole * self.half_length
        cos, sin = math.cos(theta), math.sin(theta)
        temp = (force + pole_ml * theta_dot**2 * sin) / total_mass
        theta_acc = (self.gravity * sin - cos * temp) / (
            self.half_length * (4.0 / 3.0 - self.mass_pole * cos**2 / total_mass)
        )
        x_acc = temp - pole_ml * theta_acc * cos / total_mass
        x, x_dot = x + self.dt * x_dot, x_dot + self.dt * x_acc
        theta, theta_dot = theta + self.dt * theta_dot, theta_dot + self.dt * theta_acc
        self.state = np.array([x, x_dot, theta, theta_dot])
        self.t += 1
        terminated = abs(x) > 2.4 or abs(theta) > 12 * math.pi / 180
        truncated = self.t >= self.max_steps
        return self.state.astype(np.float32), 1.0, terminated, truncated, {}


class Reach:
    obs_dim, act_dim = 1, 1

    def __init__(self, seed: int = 0, max_steps: int = 25) -> None:
        self.rng = np.random.default_rng(seed)
        self.max_steps = max_steps

    def reset(self) -> tuple[np.ndarray, dict]:
        self.x = self.rng.uniform(-2.0, 2.0)
        self.t = 0
        return np.array([self.x], dtype=np.float32), {}

    def step(self, action: np.ndarray) -> tuple[np.ndarray, float, bool, bool, dict]:
        a = float(np.clip(np.asarray(action).reshape(-1)[0], -1.0, 1.0))
        self.x = float(np.clip(self.x + 0.2 * a, -3.0, 3.0))
        self.t += 1
        reward = -(self.x**2) - 0.01 * a * a
        return np.array([self.x], dtype=np.float32), reward, False, self.t >= self.max_steps, {}
