"""TRPO: trust-region policy optimisation, the natural gradient by conjugate gradient on Hessian-free
Fisher-vector products, with a backtracking line search that enforces the KL constraint.

    python -m rl.trpo                                       # CartPole-v1, 100k steps
    python -m rl.trpo --env-id Acrobot-v1                   # preset: normalised observations
    python -m rl.trpo --env-id Pendulum-v1                  # preset: tanh-squashed Gaussian, gamma 0.9
    python -m rl.benchmark trpo --env-id CartPole-v1 --seeds 5 -- --no-gif --no-tensorboard

The problem. Maximise the surrogate L(theta) = E[pi_theta(a|s) / pi_old(a|s) A(s, a)] subject to
KL-bar(theta) = E_s[KL(pi_old(.|s) || pi_theta(.|s))] <= delta. Linearising L (gradient g) and taking
the KL to second order (its Hessian at theta_old is the Fisher information F) gives

    max_d g^T d  subject to  1/2 d^T F d <= delta    =>    d = sqrt(2 delta / x^T F x) x,  x = F^-1 g

1. x = F^-1 g by conjugate gradient (``conjugate_gradient``): it needs only products F v, never F.
2. F v without F (``fisher_vector_product``): F is the Hessian of KL-bar at theta_old, so
   F v = grad_theta (grad_theta KL-bar . v), two backward passes; the first with create_graph=True
   so that the second can differentiate it (minigrad's any-order autograd). Damping adds c v.
3. The quadratic model can be wrong: ``line_search`` tries theta_old + 0.8^k d, k = 0, 1, ..., and
   accepts the first step whose exact KL-bar <= delta and whose surrogate improves; else no step.
The critic V is fitted separately by Adam on the GAE returns (several minibatch epochs).

Writes runs/trpo_<env>_s<seed>/ like every rl/ algorithm (deterministic evaluation in summary.json).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field

import numpy as np

import minigrad as mg
from minigrad.nn.utils import parameters_to_vector, vector_to_parameters
from rl.common.args import parse_args, run_dir
from rl.common.buffers import RolloutBuffer
from rl.common.checkpoint import load_checkpoint, save_checkpoint
from rl.common.envs import VecNormalize, make_vec_env
from rl.common.evaluate import evaluate
from rl.common.finish import finish_run
from rl.common.logger import RunLogger
from rl.common.policies import ActorCritic, collect_rollout, explained_variance
from rl.common.seeding import seed_everything


@dataclass
class Args:
    env_id: str = "CartPole-v1"
    seed: int = 1
    total_timesteps: int = 100_000
    # --- rollouts
    n_envs: int = 2
    n_steps: int = 512
    gamma: float = 0.99
    gae_lambda: float = 0.98
    normalize_obs: bool = False
    normalize_reward: bool = False
    norm_adv: bool = True
    # --- the policy step
    max_kl: float = field(default=0.01, metadata={"help": "delta, the trust region's KL radius"})
    cg_iters: int = 15
    cg_damping: float = 0.1
    backtrack_iters: int = 10
    backtrack_coef: float = 0.8
    # --- the critic
    critic_lr: float = 1e-3
    critic_epochs: int = 20
    critic_batch_size: int = 512
    # --- the networks
    hidden: list = field(default_factory=lambda: [64, 64])
    activation: str = "tanh"
    policy: str = field(default="auto", metadata={"help": "auto, gaussian or tanh (continuous actions)"})
    log_std_init: float = 0.0
    # --- bookkeeping
    eval_every: int = 10_000
    eval_episodes: int = 10
    checkpoint_every: int = 50_000
    run_name: str = ""
    out_dir: str = "runs"
    tensorboard: bool = True
    gif: bool = True
    progress: bool = True
    resume: bool = False


PRESETS: dict[str, dict] = {
    "CartPole-v1": dict(total_timesteps=100_000),
    "Acrobot-v1": dict(total_timesteps=200_000, n_envs=4, n_steps=512, gae_lambda=0.95, normalize_obs=True,
                       eval_every=20_000),
    "Pendulum-v1": dict(total_timesteps=200_000, n_envs=4, n_steps=256, gamma=0.9, gae_lambda=0.95,
                        normalize_obs=True, normalize_reward=True, max_kl=0.02, policy="tanh",
                        critic_batch_size=256, critic_epochs=10, eval_every=20_000),
}


# ---------------------------------------------------------------------------------------------------
# The three pieces of a TRPO step
# ---------------------------------------------------------------------------------------------------
def flat_grad(y: mg.Tensor, params: Sequence[mg.Tensor], create_graph: bool = False,
              retain_graph: bool | None = None) -> mg.Tensor:
    """d y / d params as one flat vector (P,) (a Tensor, differentiable with create_graph)."""
    grads = mg.autograd.grad(y, list(params), create_graph=create_graph, retain_graph=retain_graph)
    return mg.cat([g.reshape(-1) for g in grads])


def conjugate_gradient(Avp: Callable[[np.ndarray], np.ndarray], b: np.ndarray, n_iters: int = 10,
                       residual_tol: float = 1e-10) -> np.ndarray:
    """Solve A x = b for symmetric positive-definite A given only x -> A x (Hestenes-Stiefel CG).

    b: (P,). Starts from x = 0; each iteration makes the residual r = b - A x orthogonal to all previous
    search directions, so in exact arithmetic x is exact after P iterations (far fewer suffice when A's
    eigenvalues cluster). Returns x (P,), float64.
    """
    x = np.zeros_like(b, dtype=np.float64)
    r = np.array(b, dtype=np.float64)          # r = b - A x with x = 0
    p = r.copy()
    rr = r @ r
    for _ in range(n_iters):
        if rr < residual_tol:
            break
        Ap = Avp(p)
        alpha = rr / (p @ Ap)
        x += alpha * p
        r -= alpha * Ap
        rr_new = r @ r
        p = r + (rr_new / rr) * p
        rr = rr_new
    return x


def fisher_vector_product(kl_fn: Callable[[], mg.Tensor], params: Sequence[mg.Tensor], damping: float = 0.0
                          ) -> Callable[[np.ndarray], np.ndarray]:
    """v -> (F + damping I) v, F = the Hessian of kl_fn() at the current parameters.

    kl_fn: () -> mean KL(pi_old || pi_theta) (a scalar Tensor), pi_old detached, so at theta = theta_old
    its Hessian is the Fisher information E[grad log pi grad log pi^T]. The gradient is built once with
    create_graph=True; every product is then one more backward pass through it (Pearlmutter's trick).
    """
    params = list(params)
    grad_kl = flat_grad(kl_fn(), params, create_graph=True)

    def fvp(v: np.ndarray) -> np.ndarray:
        gv = (grad_kl * mg.tensor(v, dtype=grad_kl.dtype)).sum()
        hv = flat_grad(gv, params, retain_graph=True)
        return hv.numpy().astype(np.float64) + damping * v
    return fvp


def line_search(params: Sequence[mg.Tensor], theta_old: np.ndarray, full_step: np.ndarray,
                surrogate_and_kl: Callable[[], tuple[float, float]], surrogate_old: float, max_kl: float,
                backtrack_coef: float = 0.8, max_backtracks: int = 10) -> tuple[float, float, float]:
    """Try theta_old + backtrack_coef^k full_step for k = 0, 1, ...; keep the first with KL <= max_kl and
    a surrogate above surrogate_old. Returns (the step fraction taken, 0 if none; surrogate; KL); with no
    acceptable step the parameters are restored to theta_old."""
    params = list(params)
    dtype = params[0].dtype
    for k in range(max_backtracks):
        frac = backtrack_coef ** k
        vector_to_parameters(mg.tensor(theta_old + frac * full_step, dtype=dtype), params)
        surrogate, kl = surrogate_and_kl()
        if kl <= max_kl and surrogate > surrogate_old:
            return frac, surrogate, kl
    vector_to_parameters(mg.tensor(theta_old, dtype=dtype), params)
    return 0.0, surrogate_old, 0.0


def trpo_policy_step(args: Args, agent: ActorCritic, obs: mg.Tensor, actions: mg.Tensor, adv: mg.Tensor
                     ) -> dict[str, float]:
    """One natural-gradient step of the actor on a batch: obs (B, obs_dim), actions (B, ...), adv (B,)."""
    params = agent.actor_parameters()
    with mg.no_grad():
        old_dist = agent.distribution(obs)
        old_logp = old_dist.log_prob(actions)

    def surrogate_and_kl() -> tuple[float, float]:
        with mg.no_grad():
            dist = agent.distribution(obs)
            surrogate = ((dist.log_prob(actions) - old_logp).exp() * adv).mean()
            return surrogate.item(), old_dist.kl(dist).mean().item()

    dist = agent.distribution(obs)
    surrogate = ((dist.log_prob(actions) - old_logp).exp() * adv).mean()
    g = flat_grad(surrogate, params).numpy().astype(np.float64)
    fvp = fisher_vector_product(lambda: old_dist.kl(agent.distribution(obs)).mean(), params, args.cg_damping)
    x = conjugate_gradient(fvp, g, args.cg_iters)
    xFx = float(x @ fvp(x))
    step_size = np.sqrt(2.0 * args.max_kl / max(xFx, 1e-12))
    full_step = step_size * x
    theta_old = parameters_to_vector(params).numpy().astype(np.float64)
    frac, surr_new, kl = line_search(params, theta_old, full_step, surrogate_and_kl, surrogate.item(),
                                     args.max_kl, args.backtrack_coef, args.backtrack_iters)
    return {"surrogate_improvement": surr_new - surrogate.item(), "kl": kl, "step_fraction": frac,
            "expected_improvement": float(g @ full_step), "entropy": dist.entropy().mean().item()}


def fit_critic(args: Args, agent: ActorCritic, optimizer: mg.optim.Optimizer, obs: mg.Tensor,
               returns: mg.Tensor, rng: np.random.Generator) -> float:
    """critic_epochs passes of minibatch regression of V(s) on the returns; the last epoch's mean loss."""
    n = returns.shape[0]
    for _ in range(args.critic_epochs):
        losses = []
        perm = rng.permutation(n)
        for start in range(0, n, args.critic_batch_size):
            mb = perm[start:start + args.critic_batch_size]
            loss = ((agent.value(obs[mb]) - returns[mb]) ** 2).mean()
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
            losses.append(loss.item())
    return float(np.mean(losses))


def main(argv=None) -> dict:
    args = parse_args(Args, argv, description=__doc__.split("\n")[0], presets=PRESETS)
    out = run_dir(args, "trpo")
    rng = seed_everything(args.seed)
    envs = make_vec_env(args.env_id, n_envs=args.n_envs, seed=args.seed, normalize_obs=args.normalize_obs,
                        normalize_reward=args.normalize_reward, gamma=args.gamma)
    norm = envs if isinstance(envs, VecNormalize) else None
    obs_dim = int(np.prod(envs.single_observation_space.shape))
    space = envs.single_action_space
    agent = ActorCritic(obs_dim, space, args.hidden, args.activation, args.policy, False, args.log_std_init)
    critic_opt = mg.optim.Adam(agent.critic_parameters(), lr=args.critic_lr)
    discrete = hasattr(space, "n")
    buffer = RolloutBuffer(args.n_steps, args.n_envs, (obs_dim,), () if discrete else space.shape,
                           np.int64 if discrete else np.float32)
    rollout = args.n_envs * args.n_steps
    n_updates = max(1, args.total_timesteps // rollout)

    parts = {"agent": agent, "critic_optimizer": critic_opt, **({"norm": norm} if norm else {})}
    start = 0
    if args.resume and (out / "last.ckpt").exists():
        start, _ = load_checkpoint(out / "last.ckpt", parts, rng)
    log = RunLogger(out, {"algo": "trpo", **asdict(args)}, n_updates * rollout, tensorboard=args.tensorboard,
                    progress=args.progress, resume_step=start if args.resume else None)

    obs, _ = envs.reset(seed=args.seed + start)
    obs = obs.reshape(args.n_envs, -1).astype(np.float32)
    t0 = time.time()
    step = start
    for _ in range(start // rollout, n_updates):
        obs, step = collect_rollout(envs, agent, buffer, obs, step, log)
        with mg.no_grad():
            last_values = agent.value(mg.tensor(obs)).numpy()
        advantages, returns = buffer.compute_advantages(last_values, args.gamma, args.gae_lambda)
        adv = advantages.reshape(-1)
        if args.norm_adv:
            adv = (adv - adv.mean()) / (adv.std() + 1e-8)
        b_obs = mg.tensor(buffer.obs.reshape(rollout, -1))
        b_actions = mg.tensor(buffer.actions.reshape(rollout, *buffer.actions.shape[2:]))
        stats = trpo_policy_step(args, agent, b_obs, b_actions, mg.tensor(adv.astype(np.float32)))
        v_loss = fit_critic(args, agent, critic_opt, b_obs, mg.tensor(returns.reshape(-1).astype(np.float32)),
                            rng)
        ev = explained_variance(buffer.values.ravel(), returns.ravel())
        log.scalars(step, **{f"losses/{k}": v for k, v in stats.items()},
                    **{"losses/value_loss": v_loss, "losses/explained_variance": ev})
        if step // args.eval_every > (step - rollout) // args.eval_every:
            returns_eval = evaluate(agent.deterministic, args.env_id, args.eval_episodes, obs_norm=norm)
            log.evaluation(step, returns_eval)
        if step // args.checkpoint_every > (step - rollout) // args.checkpoint_every:
            save_checkpoint(out / "last.ckpt", step, parts, rng)
    envs.close()

    seconds = time.time() - t0
    return finish_run("trpo", args, log, out, agent.deterministic, step, step - start, seconds, parts, rng,
                      obs_norm=norm)


if __name__ == "__main__":
    main()
