"""pytorch/examples `dcgan` shrunk to 8x8 digits: ConvTranspose2d generator, strided-conv discriminator,
BatchNorm, LeakyReLU(inplace=True), BCELoss, Adam(betas=(0.5, 0.999)), label filling with fill_."""
import numpy as np
import torch
import torch.nn as nn
import torch.optim as optim

nz, ngf, ndf = 16, 32, 32


def weights_init(m):
    classname = m.__class__.__name__
    if classname.find("Conv") != -1:
        torch.nn.init.normal_(m.weight, 0.0, 0.02)
    elif classname.find("BatchNorm") != -1:
        torch.nn.init.normal_(m.weight, 1.0, 0.02)
        torch.nn.init.zeros_(m.bias)


class Generator(nn.Module):
    def __init__(self):
        super().__init__()
        self.main = nn.Sequential(
            nn.ConvTranspose2d(nz, ngf * 2, 4, 1, 0, bias=False),   # 4x4
            nn.BatchNorm2d(ngf * 2),
            nn.ReLU(True),
            nn.ConvTranspose2d(ngf * 2, ngf, 4, 2, 1, bias=False),  # 8x8
            nn.BatchNorm2d(ngf),
            nn.ReLU(True),
            nn.Conv2d(ngf, 1, 3, 1, 1, bias=False),
            nn.Tanh(),
        )

    def forward(self, input):
        return self.main(input)


class Discriminator(nn.Module):
    def __init__(self):
        super().__init__()
        self.main = nn.Sequential(
            nn.Conv2d(1, ndf, 4, 2, 1, bias=False),                 # 4x4
            nn.LeakyReLU(0.2, inplace=True),
            nn.Conv2d(ndf, ndf * 2, 4, 2, 1, bias=False),           # 2x2
            nn.BatchNorm2d(ndf * 2),
            nn.LeakyReLU(0.2, inplace=True),
            nn.Conv2d(ndf * 2, 1, 2, 1, 0, bias=False),             # 1x1
            nn.Sigmoid(),
        )

    def forward(self, input):
        return self.main(input).view(-1, 1).squeeze(1)


def main(epochs=4, seed=1, batch_size=64):
    from sklearn.datasets import load_digits

    torch.manual_seed(seed)
    real_data = torch.from_numpy((load_digits().images / 8.0 - 1.0).astype(np.float32)).unsqueeze(1)
    netG, netD = Generator(), Discriminator()
    netG.apply(weights_init)
    netD.apply(weights_init)
    criterion = nn.BCELoss()
    fixed_noise = torch.randn(64, nz, 1, 1)
    real_label, fake_label = 1.0, 0.0
    optimizerD = optim.Adam(netD.parameters(), lr=2e-4, betas=(0.5, 0.999))
    optimizerG = optim.Adam(netG.parameters(), lr=2e-4, betas=(0.5, 0.999))
    log = []
    for _epoch in range(epochs):
        for idx in torch.randperm(len(real_data)).split(batch_size):
            # (1) update D: maximize log(D(x)) + log(1 - D(G(z)))
            netD.zero_grad()
            real = real_data[idx]
            b = real.size(0)
            label = torch.full((b,), real_label, dtype=real.dtype)
            output = netD(real)
            errD_real = criterion(output, label)
            errD_real.backward()
            D_x = output.mean().item()
            noise = torch.randn(b, nz, 1, 1)
            fake = netG(noise)
            label.fill_(fake_label)
            output = netD(fake.detach())
            errD_fake = criterion(output, label)
            errD_fake.backward()
            errD = errD_real + errD_fake
            optimizerD.step()
            # (2) update G: maximize log(D(G(z)))
            netG.zero_grad()
            label.fill_(real_label)
            output = netD(fake)
            errG = criterion(output, label)
            errG.backward()
            D_G_z2 = output.mean().item()
            optimizerG.step()
            log.append((errD.item(), errG.item(), D_x, D_G_z2))
    with torch.no_grad():
        samples = netG(fixed_noise).view(64, -1).numpy()
    # sample quality against the real-data floor: distance from each image to its nearest training digit
    images = real_data.view(len(real_data), -1).numpy()
    labels = load_digits().target

    def nearest(x):
        d = ((x[:, None, :] - images[None, :1500]) ** 2).sum(-1)
        return np.sqrt(d.min(1)), labels[d.argmin(1)]

    sample_dist, sample_digit = nearest(samples)
    real_dist, _ = nearest(images[1500:1564])
    blur_dist, _ = nearest(np.repeat(images.mean(0, keepdims=True), 64, 0))
    noise_dist, _ = nearest(np.random.default_rng(seed).uniform(-1.0, 1.0, samples.shape))
    return {"log": log, "sample_nn_distance": float(sample_dist.mean()),
            "real_nn_distance": float(real_dist.mean()),
            "mean_image_nn_distance": float(blur_dist.mean()), "noise_nn_distance": float(noise_dist.mean()),
            "digits_covered": len(set(sample_digit.tolist()))}

if __name__ == "__main__":
    r = main()
    print({k: v for k, v in r.items() if k != "log"})
