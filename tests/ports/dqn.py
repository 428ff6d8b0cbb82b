"""CleanRL's `dqn.py` shrunk to a NumPy CartPole: replay buffer, epsilon-greedy with linear decay,
a target network kept by soft (Polyak) updates through `.data.copy_`, MSE TD loss, Adam."""
import random

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F
import torch.optim as optim
from envs import CartPole


class QNetwork(nn.Module):
    def __init__(self, obs_dim, n_actions):
        super().__init__()
        self.network = nn.Sequential(
            nn.Linear(obs_dim, 64), nn.ReLU(), nn.Linear(64, 64), nn.ReLU(), nn.Linear(64, n_actions)
        )

    def forward(self, x):
        return self.network(x)


def linear_schedule(start_e, end_e, duration, t):
    slope = (end_e - start_e) / duration
    return max(slope * t + start_e, end_e)


def evaluate(q_network, env, episodes=5):
    returns = []
    for _ in range(episodes):
        obs, _ = env.reset()
        done, total = False, 0.0
        while not done:
            with torch.no_grad():
                action = torch.argmax(q_network(torch.tensor(obs).unsqueeze(0)), dim=1).item()
            obs, reward, terminated, truncated, _ = env.step(action)
            total += reward
            done = terminated or truncated
        returns.append(total)
    return float(np.mean(returns))


def main(total_timesteps=7000, seed=1, learning_starts=500, batch_size=64, gamma=0.99, tau=0.01,
         learning_rate=1e-3, buffer_size=10000):
    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)
    env = CartPole(seed=seed)
    q_network = QNetwork(env.obs_dim, env.n_actions)
    optimizer = optim.Adam(q_network.parameters(), lr=learning_rate)
    target_network = QNetwork(env.obs_dim, env.n_actions)
    target_network.load_state_dict(q_network.state_dict())

    obs_buf = np.zeros((buffer_size, env.obs_dim), np.float32)
    next_obs_buf = np.zeros((buffer_size, env.obs_dim), np.float32)
    act_buf = np.zeros(buffer_size, np.int64)
    rew_buf = np.zeros(buffer_size, np.float32)
    done_buf = np.zeros(buffer_size, np.float32)
    obs, _ = env.reset()
    for global_step in range(total_timesteps):
        epsilon = linear_schedule(1.0, 0.05, 0.5 * total_timesteps, global_step)
        if random.random() < epsilon:
            action = random.randrange(env.n_actions)
        else:
            q_values = q_network(torch.tensor(obs).unsqueeze(0))
            action = torch.argmax(q_values, dim=1).item()
        next_obs, reward, terminated, truncated, _ = env.step(action)
        i = global_step % buffer_size
        obs_buf[i], next_obs_buf[i], act_buf[i] = obs, next_obs, action
        rew_buf[i], done_buf[i] = reward, terminated
        obs = next_obs
        if terminated or truncated:
            obs, _ = env.reset()
        if global_step > learning_starts:
            idx = np.random.randint(0, min(global_step + 1, buffer_size), size=batch_size)
            observations = torch.tensor(obs_buf[idx])
            with torch.no_grad():
                target_max, _ = target_network(torch.tensor(next_obs_buf[idx])).max(dim=1)
                not_done = 1 - torch.tensor(done_buf[idx])
                td_target = torch.tensor(rew_buf[idx]) + gamma * target_max * not_done
            old_val = q_network(observations).gather(1, torch.tensor(act_buf[idx]).unsqueeze(1)).squeeze()
            loss = F.mse_loss(td_target, old_val)
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
            for target_param, q_param in zip(target_network.parameters(), q_network.parameters()):
                target_param.data.copy_(tau * q_param.data + (1.0 - tau) * target_param.data)
    return {"eval_return": evaluate(q_network, CartPole(seed=seed + 100))}


if __name__ == "__main__":
    print(main())
