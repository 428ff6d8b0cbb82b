"""Time one SAC update (critics, actor, temperature, Polyak) on random data, optionally under cProfile.

    python -m rl.profile_sac                                  # 256x256 networks, batch 256, HalfCheetah sizes
    python -m rl.profile_sac --hidden 64 --obs-dim 3 --act-dim 1 --cprofile 25

The update is exactly the one ``rl.sac.main`` runs (same loss functions, same freezing of the critics
during the actor step), so the milliseconds printed are what a training step costs beyond the
environment. ``--cprofile N`` prints the N functions with the most time of their own.
"""

from __future__ import annotations

import argparse
import cProfile
import pstats
import time

import numpy as np

import minigrad as mg
from rl import sac
from rl.common.buffers import ReplayBuffer
from rl.ddpg import QNetwork, soft_update


def make_update(hidden: list[int], batch_size: int, obs_dim: int, act_dim: int, seed: int = 0):
    """A closure running one SAC update on a buffer of random transitions."""
    mg.manual_seed(seed)
    rng = np.random.default_rng(seed)
    args = sac.Args(hidden=hidden, batch_size=batch_size)
    actor = sac.TanhGaussianActor(obs_dim, act_dim, hidden)
    q1, q2, q1_target, q2_target = (QNetwork(obs_dim, act_dim, hidden) for _ in range(4))
    q_opt = mg.optim.Adam([*q1.parameters(), *q2.parameters()], lr=1e-3)
    actor_opt = mg.optim.Adam(actor.parameters(), lr=1e-3)
    temperature = sac.Temperature(1.0)
    alpha_opt = mg.optim.Adam(temperature.parameters(), lr=1e-3)
    n = 10_000
    buffer = ReplayBuffer(n, (obs_dim,), (act_dim,), action_dtype=np.float32)
    buffer.add(rng.normal(size=(n, obs_dim)).astype(np.float32),
               rng.uniform(-1, 1, (n, act_dim)).astype(np.float32), rng.normal(size=n).astype(np.float32),
               rng.normal(size=(n, obs_dim)).astype(np.float32), np.zeros(n, np.float32))

    def update() -> None:
        batch = buffer.sample(batch_size, rng)
        alpha = float(temperature().item())
        q_loss, _ = sac.critic_loss(args, batch, actor, q1, q2, q1_target, q2_target, alpha)
        q_opt.zero_grad()
        q_loss.backward()
        q_opt.step()
        q1.requires_grad_(False)
        q2.requires_grad_(False)
        pi_loss, logp = sac.actor_loss(mg.tensor(batch.obs), actor, q1, q2, alpha)
        actor_opt.zero_grad()
        pi_loss.backward()
        actor_opt.step()
        q1.requires_grad_(True)
        q2.requires_grad_(True)
        a_loss = sac.alpha_loss(temperature, logp, -float(act_dim))
        alpha_opt.zero_grad()
        a_loss.backward()
        alpha_opt.step()
        soft_update(q1_target, q1, args.tau)
        soft_update(q2_target, q2, args.tau)
    return update


def main(argv: list[str] | None = None) -> float:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--hidden", type=int, nargs="*", default=[256, 256])
    p.add_argument("--batch-size", type=int, default=256)
    p.add_argument("--obs-dim", type=int, default=17)
    p.add_argument("--act-dim", type=int, default=6)
    p.add_argument("--updates", type=int, default=100)
    p.add_argument("--cprofile", type=int, default=0, help="print this many functions by own time")
    a = p.parse_args(argv)
    update = make_update(a.hidden, a.batch_size, a.obs_dim, a.act_dim)
    for _ in range(10):
        update()
    t = time.perf_counter()
    for _ in range(a.updates):
        update()
    ms = (time.perf_counter() - t) / a.updates * 1e3
    print(f"SAC update, hidden {a.hidden}, batch {a.batch_size}, obs {a.obs_dim}, actions {a.act_dim}: "
          f"{ms:.2f} ms")
    if a.cprofile:
        prof = cProfile.Profile()
        prof.enable()
        for _ in range(a.updates):
            update()
        prof.disable()
        pstats.Stats(prof).sort_stats("tottime").print_stats(a.cprofile)
    return ms


if __name__ == "__main__":
    main()
