"""CleanRL's `sac_continuous_action.py` on a NumPy reaching task: a tanh-squashed Normal policy
(`TransformedDistribution(Normal, TanhTransform)`), twin Q networks with soft-updated targets, delayed
policy updates and automatic entropy tuning through `log_alpha`."""
import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F
import torch.optim as optim
from envs import Reach
from torch.distributions import Normal, TanhTransform, TransformedDistribution

LOG_STD_MAX, LOG_STD_MIN = 2, -5


class SoftQNetwork(nn.Module):
    def __init__(self, obs_dim, act_dim):
        super().__init__()
        self.fc1 = nn.Linear(obs_dim + act_dim, 64)
        self.fc2 = nn.Linear(64, 64)
        self.fc3 = nn.Linear(64, 1)

    def forward(self, x, a):
        x = torch.cat([x, a], 1)
        x = F.relu(self.fc1(x))
        x = F.relu(self.fc2(x))
        return self.fc3(x)


class Actor(nn.Module):
    def __init__(self, obs_dim, act_dim):
        super().__init__()
        self.fc1 = nn.Linear(obs_dim, 64)
        self.fc2 = nn.Linear(64, 64)
        self.fc_mean = nn.Linear(64, act_dim)
        self.fc_logstd = nn.Linear(64, act_dim)

    def forward(self, x):
        x = F.relu(self.fc1(x))
        x = F.relu(self.fc2(x))
        mean = self.fc_mean(x)
        log_std = torch.tanh(self.fc_logstd(x))
        log_std = LOG_STD_MIN + 0.5 * (LOG_STD_MAX - LOG_STD_MIN) * (log_std + 1)
        return mean, log_std

    def get_action(self, x):
        mean, log_std = self(x)
        pi = TransformedDistribution(Normal(mean, log_std.exp()), [TanhTransform(cache_size=1)])
        action = pi.rsample()
        log_prob = pi.log_prob(action).sum(1, keepdim=True)
        return action, log_prob, torch.tanh(mean)


def evaluate(actor, env, episodes=10):
    returns = []
    for _ in range(episodes):
        obs, _ = env.reset()
        done, total = False, 0.0
        while not done:
            with torch.no_grad():
                _, _, action = actor.get_action(torch.tensor(obs).unsqueeze(0))
            obs, reward, terminated, truncated, _ = env.step(action[0].numpy())
            total += reward
            done = terminated or truncated
        returns.append(total)
    return float(np.mean(returns))


def main(total_timesteps=2500, seed=1, learning_starts=250, batch_size=64, gamma=0.9, tau=0.01,
         policy_lr=1e-3, q_lr=2e-3, policy_frequency=2, buffer_size=10000):
    np.random.seed(seed)
    torch.manual_seed(seed)
    env = Reach(seed=seed)
    actor = Actor(1, 1)
    qf1, qf2 = SoftQNetwork(1, 1), SoftQNetwork(1, 1)
    qf1_target, qf2_target = SoftQNetwork(1, 1), SoftQNetwork(1, 1)
    qf1_target.load_state_dict(qf1.state_dict())
    qf2_target.load_state_dict(qf2.state_dict())
    q_optimizer = optim.Adam(list(qf1.parameters()) + list(qf2.parameters()), lr=q_lr)
    actor_optimizer = optim.Adam(list(actor.parameters()), lr=policy_lr)
    target_entropy = -1.0
    log_alpha = torch.zeros(1, requires_grad=True)
    alpha = log_alpha.exp().item()
    a_optimizer = optim.Adam([log_alpha], lr=q_lr)

    obs_buf = np.zeros((buffer_size, 1), np.float32)
    next_obs_buf = np.zeros((buffer_size, 1), np.float32)
    act_buf = np.zeros((buffer_size, 1), np.float32)
    rew_buf = np.zeros((buffer_size, 1), np.float32)
    done_buf = np.zeros((buffer_size, 1), np.float32)
    random_return = evaluate_random(Reach(seed=seed + 100))
    obs, _ = env.reset()
    for global_step in range(total_timesteps):
        if global_step < learning_starts:
            action = np.random.uniform(-1, 1, size=1).astype(np.float32)
        else:
            with torch.no_grad():
                action, _, _ = actor.get_action(torch.tensor(obs).unsqueeze(0))
            action = action[0].numpy()
        next_obs, reward, terminated, truncated, _ = env.step(action)
        i = global_step % buffer_size
        obs_buf[i], next_obs_buf[i], act_buf[i] = obs, next_obs, action
        rew_buf[i], done_buf[i] = reward, terminated
        obs = next_obs
        if terminated or truncated:
            obs, _ = env.reset()
        if global_step > learning_starts:
            idx = np.random.randint(0, min(global_step + 1, buffer_size), size=batch_size)
            b_obs, b_next = torch.tensor(obs_buf[idx]), torch.tensor(next_obs_buf[idx])
            b_act, b_rew = torch.tensor(act_buf[idx]), torch.tensor(rew_buf[idx])
            b_done = torch.tensor(done_buf[idx])
            with torch.no_grad():
                next_action, next_log_pi, _ = actor.get_action(b_next)
                min_qf_next = torch.min(qf1_target(b_next, next_action), qf2_target(b_next, next_action))
                min_qf_next = min_qf_next - alpha * next_log_pi
                next_q_value = b_rew.flatten() + (1 - b_done.flatten()) * gamma * min_qf_next.view(-1)
            qf1_loss = F.mse_loss(qf1(b_obs, b_act).view(-1), next_q_value)
            qf2_loss = F.mse_loss(qf2(b_obs, b_act).view(-1), next_q_value)
            qf_loss = qf1_loss + qf2_loss
            q_optimizer.zero_grad()
            qf_loss.backward()
            q_optimizer.step()
            if global_step % policy_frequency == 0:
                for _ in range(policy_frequency):
                    pi, log_pi, _ = actor.get_action(b_obs)
                    min_qf_pi = torch.min(qf1(b_obs, pi), qf2(b_obs, pi))
                    actor_loss = ((alpha * log_pi) - min_qf_pi).mean()
                    actor_optimizer.zero_grad()
                    actor_loss.backward()
                    actor_optimizer.step()
                    with torch.no_grad():
                        _, log_pi, _ = actor.get_action(b_obs)
                    alpha_loss = (-log_alpha.exp() * (log_pi + target_entropy)).mean()
                    a_optimizer.zero_grad()
                    alpha_loss.backward()
                    a_optimizer.step()
                    alpha = log_alpha.exp().item()
            for param, target_param in zip(qf1.parameters(), qf1_target.parameters()):
                target_param.data.copy_(tau * param.data + (1 - tau) * target_param.data)
            for param, target_param in zip(qf2.parameters(), qf2_target.parameters()):
                target_param.data.copy_(tau * param.data + (1 - tau) * target_param.data)
    return {"eval_return": evaluate(actor, Reach(seed=seed + 100)), "random_return": random_return,
            "alpha": alpha}


def evaluate_random(env, episodes=10):
    rng = np.random.default_rng(0)
    total = 0.0
    for _ in range(episodes):
        env.reset()
        done = False
        while not done:
            _, reward, terminated, truncated, _ = env.step(rng.uniform(-1, 1, size=1))
            total += reward
            done = terminated or truncated
    return total / episodes


if __name__ == "__main__":
    print(main())
