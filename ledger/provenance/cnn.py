"""A real model for the pipeline recorder: a CNN of 1.1M parameters on scikit-learn's 8x8
digits, and a training step of the shape PipelineRecorder replays
(model, optimizer, scheduler, batch, hyperparameters)."""
from __future__ import annotations

from ledger.provenance.torch_trainer import torch


class DigitsCNN(torch.nn.Module):
    """conv 1->64 -> conv 64->128 -> max-pool -> fc 2048->width -> fc width->10 (1.13M
    parameters at the default width 512)."""

    def __init__(self, width: int = 512) -> None:
        super().__init__()
        self.conv1 = torch.nn.Conv2d(1, 64, 3, padding=1)
        self.conv2 = torch.nn.Conv2d(64, 128, 3, padding=1)
        self.fc1 = torch.nn.Linear(128 * 4 * 4, width)
        self.fc2 = torch.nn.Linear(width, 10)

    def forward(self, pixels: "torch.Tensor") -> "torch.Tensor":
        x = (pixels.float() / 16.0).reshape(-1, 1, 8, 8)
        x = torch.nn.functional.max_pool2d(torch.relu(self.conv2(torch.relu(self.conv1(x)))), 2)
        return self.fc2(torch.relu(self.fc1(x.flatten(1))))


def train_step(model, optimizer, scheduler, batch, hyperparameters) -> float:
    """One minibatch of cross-entropy with optional gradient clipping; the scheduler steps per iteration."""
    optimizer.zero_grad()
    loss = torch.nn.functional.cross_entropy(model(batch["x"]), batch["y"])
    loss.backward()
    if hyperparameters.get("clip"):
        torch.nn.utils.clip_grad_norm_(model.parameters(), hyperparameters["clip"])
    optimizer.step()
    if scheduler is not None:
        scheduler.step()
    return float(loss.detach())


def accuracy(model: "torch.nn.Module", pixels, labels) -> float:
    with torch.no_grad():
        predicted = model(torch.as_tensor(pixels)).argmax(dim=1)
    return float((predicted == torch.as_tensor(labels)).float().mean())
