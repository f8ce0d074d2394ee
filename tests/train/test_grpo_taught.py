"""SD-GRPO on a policy that really writes requests: random weights never do, so the tiny base is
first taught by DynFrame's own SFT (four DM-CoT answers to one DM-RL question, with different
windows, densities and answers) and then sampled at the release's temperature 0.7. The real
trainer's step must give the retrieval segment and the answer segment different advantages, and
both must move the weights; log-probs are taken at the sampling temperature; a rejected request
(its in-band note quotes tags) leaves the format reward as the policy's own text scores it."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path
from typing import Any

import pytest
import torch

from framescope.models.backend import Segment
from framescope.models.engine import Engine, Sampling, pad_left
from framescope.models.hf import load_backend
from framescope.retrieval.grammar import parse_request, rejection_note
from framescope.retrieval.loop import RetrievalSession, Sample
from framescope.train.grpo import rewards as rw
from framescope.train.grpo import trainer
from framescope.train.grpo.loss import policy_loss
from framescope.train.grpo.rollout import Rollout, generate_group, infer_config
from framescope.train.model import forward_inputs
from framescope.train.records import load_records
from framescope.train.runtime import read_metrics
from framescope.train.sft import train_sft

from .conftest import recipe

# answers to "the cyan triangle appears" (truth 1.00 - 2.00 s at 4 fps): windows, densities and
# answers differ, so a group has retrieval and answer rewards that vary independently
BRANCHES = (  # each window starts with another digit: the first sampled digit picks a branch
    "<span>1.00 - 2.00</span><fps>4</fps><video>ok</think><answer>1.00 - 2.00</answer>",
    "<span>6.00 - 10.00</span><fps>1</fps><video>ok</think><answer>7.00 - 9.00</answer>",
    "<span>0.50 - 2.50</span><fps>2</fps><video>ok</think><answer>1.00 - 2.00</answer>",
    "<span>9.00 - 13.00</span><fps>2</fps><video>ok</think><answer>9 - 11</answer>",
)
TAUGHT_STEPS = 60


@dataclasses.dataclass
class Taught:
    model: Path  # the SFT export
    rl_file: Path  # the one DM-RL prompt


@pytest.fixture(scope="module")
def taught(world: Path, bases: dict[str, Path], tmp_path_factory: pytest.TempPathFactory) -> Taught:
    root = tmp_path_factory.mktemp("taught")
    world_row = json.loads((world / "dynframe" / "dm_rl.jsonl").read_text().splitlines()[0])
    assert "the cyan triangle appears" in world_row["prompt"]  # what BRANCHES answer
    assert (world_row["gt_span_start"], world_row["gt_span_end"], world_row["fps"]) == (1, 2, 4)
    # the same question in few tokens (the tiny tokenizer spends one per byte): a short sequence
    row = {**world_row, "prompt": "<video>\nWhen does the cyan triangle appear?"}
    row["video"] = str(world / row["video"])
    (root / "rl.jsonl").write_text(json.dumps(row) + "\n")
    cot = [
        {
            "video": [row["video"]],
            "conversations": [
                {"from": "human", "value": row["prompt"]},
                {"from": "gpt", "value": "<think>" + branch},
            ],
        }
        for branch in BRANCHES
    ]
    (root / "cot.json").write_text(json.dumps(cot))
    cfg = recipe(
        "dynframe_sft",
        world,
        bases["qwen3_vl"],
        root / "sft",
        f"data.files=[{root / 'cot.json'}]",
        "video.fps=0.5",  # the GRPO recipe's prompt video, so the prompts are the rollouts'
        "video.max_frames=8",
        f"optim.max_steps={TAUGHT_STEPS}",
        f"save_steps={TAUGHT_STEPS}",
        "optim.global_batch_size=4",
        "optim.per_device_batch_size=4",
        "optim.lr=3e-3",
        "optim.scheduler=constant",
        "optim.warmup_ratio=0.0",
    )
    train_sft(cfg)
    assert read_metrics(cfg.output_dir)[-1]["loss"] < 0.2
    return Taught(root / "sft" / f"checkpoint-{TAUGHT_STEPS}" / "model", root / "rl.jsonl")


def grpo_recipe(world: Path, taught: Taught, out: Path, *overrides: str) -> Any:
    """SD-GRPO on the taught policy: one prompt x 4 rollouts per step at temperature 0.7."""
    sets = [f"data.files=[{taught.rl_file}]", "optim.global_batch_size=4", "grpo.sampling.temperature=0.7"]
    sets += ["optim.max_steps=1", "save_steps=1"]
    return recipe("dynframe_grpo", world, taught.model, out, *sets, *overrides)


def segments(r: Rollout) -> tuple[torch.Tensor, torch.Tensor]:
    """Masks (L,) of the sampled tokens up to and including the first request and after it."""
    mask = torch.tensor(r.mask, dtype=torch.float64)
    first = torch.arange(len(r.mask)) <= r.boundary if r.boundary >= 0 else torch.ones(len(mask))
    return mask * first, mask * (1 - first.double())


def test_segments_get_their_own_advantages_and_both_move_the_weights(
    world: Path, taught: Taught, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    seen: dict[str, Any] = {"steps": [], "grads": []}

    def spy_optimizer(cfg: Any, params: Any, steps: int) -> Any:
        seen["params"] = list(params)
        seen["before"] = [p.detach().clone() for p in params]
        return make_optimizer(cfg, params, steps)

    def spy_advantages(g: Any, table: Any, rollouts: list[Rollout], offset: int) -> Any:
        out = rollout_advantages(g, table, rollouts, offset)
        seen["steps"].append((rollouts, out))
        return out

    def spy_loss(logps: Any, old: Any, adv: torch.Tensor, mask: Any, **kw: Any) -> Any:
        rollouts, _ = seen["steps"][-1]
        r = rollouts[len(seen["grads"]) % len(rollouts)]  # one rollout per micro-batch
        norms = []
        for part in segments(r):  # the surrogate of one segment's advantages alone, no KL
            part_adv = adv * part.to(adv)[None]
            loss = policy_loss(logps, old, part_adv, mask, epsilon_low=kw["epsilon_low"]).loss
            grads = torch.autograd.grad(loss, seen["params"], retain_graph=True, allow_unused=True)
            norms.append(sum(float(g.norm()) for g in grads if g is not None))
        seen["grads"].append(norms)
        return policy_loss(logps, old, adv, mask, **kw)

    make_optimizer, rollout_advantages = trainer.make_optimizer, trainer.rollout_advantages
    monkeypatch.setattr(trainer, "make_optimizer", spy_optimizer)
    monkeypatch.setattr(trainer, "rollout_advantages", spy_advantages)
    monkeypatch.setattr(trainer, "policy_loss", spy_loss)
    cfg = grpo_recipe(world, taught, tmp_path / "run")
    assert cfg.grpo.advantage == "segment" and cfg.optim.per_device_batch_size == 1
    trainer.train_grpo(cfg)

    rollouts, advantages = seen["steps"][0]
    requests = [s.request for r in rollouts for s in r.trace.steps if s.status == "fetched"]
    assert len({q.window for q in requests}) >= 2 and len({q.fps for q in requests}) >= 2, (
        f"the taught policy did not vary its requests: {[r.text for r in rollouts]}"
    )
    assert len(seen["grads"]) == len(rollouts)  # one step, one rollout per micro-batch
    credited = []  # (retrieval advantage, answer advantage) of the rollouts that retrieved
    for r, adv, (g_first, g_after) in zip(rollouts, advantages, seen["grads"]):
        first, after = segments(r)
        values = torch.tensor(adv, dtype=torch.float64)
        assert not values[torch.tensor(r.mask) == 0].any()  # injected tokens: no advantage
        if r.boundary < 0 or not after.any():
            continue
        (a,), (b,) = values[first > 0].unique().tolist(), values[after > 0].unique().tolist()
        credited.append((a, b))
        assert (g_first > 0) == (a != 0) and (g_after > 0) == (b != 0)  # each segment's pull
    assert any(a != b for a, b in credited), credited
    assert any(a != 0 for a, _ in credited) and any(b != 0 for _, b in credited), credited
    assert any(g[0] > 0 for g in seen["grads"]) and any(g[1] > 0 for g in seen["grads"])
    moved = [not torch.equal(p0, p) for p0, p in zip(seen["before"], seen["params"])]
    assert all(moved)

    first = read_metrics(cfg.output_dir)[0]  # old, new and reference log-probs all at T = 0.7
    assert first["ratio_mean"] == pytest.approx(1.0, abs=1e-4) and first["clip_fraction"] == 0
    assert first["kl"] == pytest.approx(0.0, abs=1e-6)


def test_rollout_log_probs_are_at_the_sampling_temperature(world: Path, taught: Taught) -> None:
    """The engine's log-probs (old policy) equal the trainer's recomputation at T = 0.7 — and
    differ from temperature 1, the rule that made ratio and KL use another distribution."""
    cfg = grpo_recipe(world, taught, Path("unused"))
    backend = load_backend(taught.model)
    engine = Engine(backend)
    (record,) = load_records(cfg).items
    rollouts = generate_group(engine, record, 0, 0, infer_config(cfg), 4)
    inputs = trainer.model_inputs(backend, rollouts[:1], backend.device)
    r = rollouts[0]
    sampled = torch.tensor(r.mask) == 1
    recorded = torch.tensor(r.logprobs)[sampled]
    with torch.no_grad():
        at = {t: trainer.PolicyModule(backend.model, t)(inputs, len(r.mask))[0] for t in (0.7, 1)}
    torch.testing.assert_close(at[0.7][sampled], recorded, atol=1e-4, rtol=0)
    assert (at[1.0][sampled] - recorded).abs().max() > 1e-2


def teach(backend: Any, sequence: list[Segment], learned: list[bool], steps: int = 200) -> None:
    """Overfit ``backend.model`` on one sequence (loss on the ``learned`` parts) until greedy
    decoding reproduces it: every learned token the argmax, by a margin."""
    full = sum(sequence[1:], sequence[0])
    labels = [t if keep else -100 for s, keep in zip(sequence, learned) for t in s.token_ids]
    padded = pad_left(backend, [full])
    inputs = forward_inputs(padded, backend.device, backend.dtype)
    target = torch.tensor([labels])
    model = backend.model.train()
    opt = torch.optim.Adam(model.parameters(), lr=3e-3)
    learn = target[0, 1:] >= 0
    for _ in range(steps):
        logits = model(**inputs).logits[0, :-1]
        loss = torch.nn.functional.cross_entropy(logits, target[0, 1:], ignore_index=-100)
        probs = logits[learn].softmax(-1).gather(1, target[0, 1:][learn, None])
        if bool((probs > 0.9).all()):
            break
        opt.zero_grad()
        loss.backward()
        opt.step()
    model.eval()


def test_a_rejected_request_leaves_the_format_reward_unchanged(world: Path, taught: Taught) -> None:
    """The policy writes a request the runtime cannot read (text between ``</span>`` and
    ``<fps>``); the runtime answers ``[retrieval rejected: no <span>…</span> right before
    <fps>]``. Rewards read what the policy sampled: its format is complete (think 0.4 + answer
    0.4 + paired tags 0.2 = 1.0); read with the note, the extra ``<span>``/``</span>``/``<fps>``
    would cost the paired-tag 0.2."""
    cfg = grpo_recipe(world, taught, Path("unused"))
    (record,) = load_records(cfg).items
    backend = load_backend(taught.model)
    config = dataclasses.replace(infer_config(cfg), sampling=Sampling(), max_new_tokens=64)
    sample = Sample("taught", str(record.video), record.question)
    prompt = RetrievalSession(backend, [sample], config).prompts[0]
    request = "<think><span>1.00 - 2.00</span> then <fps>2</fps>"
    reason = parse_request(request).reason
    assert reason == "no <span>…</span> right before <fps>"
    answer = "</think><answer>1.00 - 2.00</answer>"
    texts = (request, rejection_note(reason), answer + "<|im_end|>")
    sequence = [prompt, *(Segment(backend.encode_text(t)) for t in texts)]
    teach(backend, sequence, [False, True, False, True])  # the note is the runtime's: not learned

    (r,) = generate_group(Engine(backend), record, 0, 0, config, 1)
    assert [s.status for s in r.trace.steps] == ["rejected", "final"], r.trace.response
    assert r.text == request + answer  # the note (mask 0) is not the policy's text
    assert rw.format_reward([r.text]) == [1.0]
    assert rw.format_reward([r.trace.response]) == [pytest.approx(0.8)]  # runtime text in it
    scores = rw.score(trainer.REWARD_NAMES, [r.text], [record])
    assert scores["format"] == [1.0] and scores["fps"] == [0.0]  # unreadable: no retrieval reward
