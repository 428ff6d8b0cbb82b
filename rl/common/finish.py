"""The end of every run: evaluate the final policy, write the checkpoint, the GIF and summary.json.

    return finish_run("ppo", args, log, out, agent.deterministic, step, step - start, seconds, parts, rng,
                      obs_norm=norm)
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from .checkpoint import save_checkpoint
from .evaluate import Policy, evaluate, record_gif
from .logger import RunLogger, final_metrics


def finish_run(algo: str, args: Any, log: RunLogger, out: Path, policy: Policy, step: int, env_steps: int,
               seconds: float, parts: dict[str, Any], rng: np.random.Generator, *, obs_norm: Any = None,
               final_extra: dict | None = None, checkpoint_extra: dict | None = None) -> dict:
    """Deterministic evaluation over ``args.eval_episodes`` episodes, last.ckpt, episode.gif (with
    ``args.gif``), then ``log.close``; prints one line and returns the summary's ``final``."""
    returns = evaluate(policy, args.env_id, args.eval_episodes, obs_norm=obs_norm)
    final = final_metrics(returns, env_steps, seconds)
    final.update(final_extra or {})
    files = [save_checkpoint(out / "last.ckpt", step, parts, rng, extra=checkpoint_extra)]
    if args.gif:
        files.append(record_gif(policy, args.env_id, out / "episode.gif", obs_norm=obs_norm))
    summary = log.close(final, files)
    print(f"{algo} {args.env_id} seed {args.seed}: eval return {final['eval_return_mean']:.1f} ± "
          f"{final['eval_return_std']:.1f} over {final['eval_episodes']} episodes after {step} steps "
          f"({seconds:.0f} s); {out}")
    return summary["final"]
