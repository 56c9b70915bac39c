"""Code the pipeline tests record: a small model, honest and dishonest step functions."""
from __future__ import annotations

import torch


class TinyNet(torch.nn.Module):
    def __init__(self, hidden: int = 16) -> None:
        super().__init__()
        self.fc1 = torch.nn.Linear(64, hidden)
        self.fc2 = torch.nn.Linear(hidden, 10)

    def forward(self, pixels):
        return self.fc2(torch.relu(self.fc1(pixels.float() / 16.0)))


def honest_step(model, optimizer, scheduler, batch, hyperparameters):
    optimizer.zero_grad()
    loss = torch.nn.functional.cross_entropy(model(batch["x"]), batch["y"])
    loss.backward()
    optimizer.step()
    if scheduler is not None:
        scheduler.step()


def skipping_step(model, optimizer, scheduler, batch, hyperparameters):
    """Trains on half the batch only (a cheaper step than the one recorded)."""
    optimizer.zero_grad()
    n = max(1, len(batch["y"]) // 2)
    torch.nn.functional.cross_entropy(model(batch["x"][:n]), batch["y"][:n]).backward()
    optimizer.step()
    if scheduler is not None:
        scheduler.step()


def dropout_step(model, optimizer, scheduler, batch, hyperparameters):
    """Draws from torch's RNG: replay needs the recorded RNG state."""
    optimizer.zero_grad()
    logits = torch.nn.functional.dropout(model(batch["x"]), p=0.2, training=True)
    torch.nn.functional.cross_entropy(logits, batch["y"]).backward()
    optimizer.step()
