"""pytorch/examples `vae` on 8x8 digits: MLP encoder/decoder, reparameterisation, BCE + KL."""
import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F
from torch import optim


class VAE(nn.Module):
    def __init__(self):
        super().__init__()
        self.fc1 = nn.Linear(64, 128)
        self.fc21 = nn.Linear(128, 8)
        self.fc22 = nn.Linear(128, 8)
        self.fc3 = nn.Linear(8, 128)
        self.fc4 = nn.Linear(128, 64)

    def encode(self, x):
        h1 = F.relu(self.fc1(x))
        return self.fc21(h1), self.fc22(h1)

    def reparameterize(self, mu, logvar):
        std = torch.exp(0.5 * logvar)
        eps = torch.randn_like(std)
        return mu + eps * std

    def decode(self, z):
        h3 = F.relu(self.fc3(z))
        return torch.sigmoid(self.fc4(h3))

    def forward(self, x):
        mu, logvar = self.encode(x.view(-1, 64))
        z = self.reparameterize(mu, logvar)
        return self.decode(z), mu, logvar


def loss_function(recon_x, x, mu, logvar):
    bce = F.binary_cross_entropy(recon_x, x.view(-1, 64), reduction="sum")
    kld = -0.5 * torch.sum(1 + logvar - mu.pow(2) - logvar.exp())
    return bce + kld


def main(epochs=15, seed=1):
    from sklearn.datasets import load_digits

    torch.manual_seed(seed)
    data = torch.from_numpy((load_digits().images / 16.0).astype(np.float32))
    train_x, test_x = data[:1500], data[1500:]
    model = VAE()
    optimizer = optim.Adam(model.parameters(), lr=1e-3)
    history = []
    for _epoch in range(epochs):
        model.train()
        total = 0.0
        for i in torch.randperm(len(train_x)).split(64):
            x = train_x[i]
            optimizer.zero_grad()
            recon, mu, logvar = model(x)
            loss = loss_function(recon, x, mu, logvar)
            loss.backward()
            total += loss.item()
            optimizer.step()
        history.append(total / len(train_x))
    model.eval()
    with torch.no_grad():
        recon, mu, logvar = model(test_x)
        test_loss = loss_function(recon, test_x, mu, logvar).item() / len(test_x)
        sample = model.decode(torch.randn(16, 8))
    assert sample.shape == (16, 64)
    return {"first_epoch_loss": history[0], "train_loss": history[-1], "test_loss": test_loss}


if __name__ == "__main__":
    print(main())
