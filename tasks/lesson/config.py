"""The lesson flow's config: which memory task, which lengths, cells and seeds, one training budget.

Every model of a sweep gets the same budget: the same data, epochs, batch size and learning rate,
and no early stopping (``train.patience`` is past any epoch count), so a cell that needs a few
epochs on the no-memory plateau before it finds the markers is not cut short. Everything checkable
from the config alone is checked here, before any run opens.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import Field, field_validator, model_validator

from tasks.config import SEED_MAX, Frozen, RunConfig, TrackingConfig
from tasks.nets.config import NetConfig, TrainConfig

TASKS: tuple[str, ...] = ("adding", "copy")
MAX_STEPS = 50_000_000  # sequences × steps held in memory at once (about 400 MB of float32 inputs)


def _split_ints(value: Any) -> Any:
    # `--set sweep.lengths=10,25` arrives as the bare word "10,25"; a TOML list arrives as a list.
    if isinstance(value, str):
        parts = [part.strip() for part in value.split(",") if part.strip()]
        try:
            return tuple(int(part) for part in parts)
        except ValueError:
            raise ValueError("expected whole numbers separated by commas, e.g. 10,25,50") from None
    if isinstance(value, int) and not isinstance(value, bool):
        return (value,)
    return tuple(value) if isinstance(value, list) else value


class MemoryTask(Frozen):
    """A long-memory task synthesised from the run's seed; every step has two features (value, marker)."""

    kind: Literal["adding", "copy"] = "adding"  # adding: target = sum of the two marked values; copy: the first step's value
    n_train: int = Field(10_000, ge=1, le=10_000_000)  # training sequences per length
    n_validation: int = Field(500, ge=1, le=10_000_000)  # validation sequences per length (best epoch's weights kept)
    n_test: int = Field(1000, ge=1, le=10_000_000)  # test sequences per length: test MSE and the data's no-memory MSE

    @property
    def counts(self) -> dict[str, int]:
        """Sequences per split."""
        return {"train": self.n_train, "validation": self.n_validation, "test": self.n_test}


class SweepConfig(Frozen):
    """What is varied: every cell is trained at every length with every seed."""

    lengths: tuple[int, ...] = (10, 25, 50, 100)  # sequence lengths (steps the first marker is carried, at most)
    seeds: tuple[int, ...] = (1, 2)  # training seeds: initialisation and shuffling; the data come from `seed`
    solved_mse: float = Field(0.01, gt=0)  # a model solves the task when its test MSE is below this

    @field_validator("lengths", "seeds", mode="before")
    @classmethod
    def _split_lists(cls, value: Any) -> Any:
        return _split_ints(value)

    @field_validator("lengths")
    @classmethod
    def _lengths_fit(cls, value: tuple[int, ...]) -> tuple[int, ...]:
        if not value:
            raise ValueError("at least one length is needed")
        for length in value:
            if not 2 <= length <= 10_000:
                raise ValueError(f"length {length}: must be between 2 and 10,000 steps")
        if len(set(value)) != len(value):
            raise ValueError(f"lengths {list(value)} name a length twice")
        return value

    @field_validator("seeds")
    @classmethod
    def _seeds_fit(cls, value: tuple[int, ...]) -> tuple[int, ...]:
        if not value:
            raise ValueError("at least one seed is needed")
        if any(not 0 <= seed <= SEED_MAX for seed in value):
            raise ValueError(f"seeds {list(value)}: every seed must be between 0 and {SEED_MAX}")
        if len(set(value)) != len(value):
            raise ValueError(f"seeds {list(value)} name a seed twice")
        return value


class LessonTrain(TrainConfig):
    """Keras ``fit`` settings: one budget for every model of the sweep."""

    epochs: int = Field(10, gt=0, le=100_000)  # epochs every model trains (the budget)
    batch_size: int = Field(32, gt=0, le=1_000_000)  # sequences per gradient step
    patience: int = Field(100_000, ge=1, le=100_000)  # epochs without validation improvement before stopping (the default never stops early)
    lr_patience: int = Field(0, ge=0, le=100_000)  # halve the learning rate after this many flat epochs (0 = never: a plateau is part of the lesson)
    threads: int = Field(1, ge=0, le=1024)  # TensorFlow's threads for the process (0 = its default); one trains these small nets faster, to the same results


class GradientConfig(Frozen):
    """How the vanishing-gradient story is measured: ‖∂loss/∂x_t‖ on a fixed batch of test sequences."""

    batch: int = Field(128, gt=0, le=10_000_000)  # test sequences the gradient norms are measured on (the first ones, fixed)
    per_epoch: bool = True  # also measure the first-to-last ratio after every epoch (one backward pass each)


class LessonTracking(TrackingConfig):
    """MLflow settings of the lesson flow."""

    experiment: str = Field("seqflow-lesson", min_length=1)  # MLflow experiment the flow's runs go to
    log_models: bool = False  # also store each trained model's .keras file as an artifact of its run


class LessonConfig(RunConfig):
    """Everything ``memory_lesson`` needs; this object is the flow's only parameter."""

    seed: int = Field(42, ge=0, le=SEED_MAX)  # drives the data: the same sequences for every cell and training seed
    task: MemoryTask = MemoryTask()  # which memory task and how many sequences
    sweep: SweepConfig = SweepConfig()  # lengths × cells × seeds
    model: NetConfig = NetConfig()  # cells and their size (the same for every cell)
    train: LessonTrain = LessonTrain()  # the one training budget
    gradients: GradientConfig = GradientConfig()  # the gradient-norm measurements
    tracking: LessonTracking = LessonTracking()  # the MLflow experiment and what is logged

    @model_validator(mode="after")
    def _fits(self) -> LessonConfig:
        if self.gradients.batch > self.task.n_test:
            raise ValueError(
                f"gradients.batch = {self.gradients.batch} is more than the {self.task.n_test} test sequences "
                "(task.n_test); lower it or draw more test sequences")
        longest = max(self.sweep.lengths)
        n = self.task.n_train + self.task.n_validation + self.task.n_test
        if n * longest > MAX_STEPS:
            raise ValueError(
                f"task: {n:,} sequences × the longest length {longest} = {n * longest:,} steps; "
                f"at most {MAX_STEPS:,} are held in memory at once")
        return self

    @property
    def runs(self) -> int:
        """Models the sweep trains: lengths × cells × seeds."""
        return len(self.sweep.lengths) * len(self.model.cells) * len(self.sweep.seeds)
