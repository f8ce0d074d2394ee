"""SD-GRPO, DynFrame's segment-decoupled GRPO, and the released trajectory-level baseline.

One RL step: DM-RL prompts → ``G`` rollouts each through the retrieval loop
(:mod:`framescope.retrieval.loop`, the loop inference uses) → rewards (:mod:`.rewards`) →
advantages (:mod:`.advantages`) → clipped policy loss (:mod:`.loss`) → optimiser step. The pieces
here are pure functions; the trainer composes them.

**How SD-GRPO departs from GRPO**

1. GRPO gives each rollout one scalar reward, normalises it within the prompt's group and
   broadcasts the advantage to every completion token. SD-GRPO scores each rollout twice — a
   *retrieval* reward (span IoU with the annotated evidence span + closeness of the density to the
   annotated fps) and an *answer* reward (accuracy + format) — normalises each within the group,
   and gives tokens up to and including ``</fps>`` the retrieval advantage, later tokens the answer
   advantage: a wrong answer no longer punishes a good retrieval, nor a lucky answer a bad one.
2. A rollout is not one block of sampled tokens: the runtime splices frames (vision blocks,
   timestamps) and in-band notes into the assistant turn. Injected tokens get no advantage and
   no loss (mask 0), in both modes.

**The released trainer** (``DynFrame_grpo.sh``) is trajectory-level: TRL's GRPO with one advantage
per rollout, rewards format 0.1 / accuracy 0.6 / fps 0.3 (time IoU 0),
``multi_objective_aggregation="normalize_then_sum"``, ``scale_rewards="group"``,
``loss_type="grpo"``, beta 0.02, epsilon 0.3, 8 generations, temperature 0.7, top-p 0.8, top-k
100, repetition penalty 1.05, lr 1e-5 cosine with 5 % warm-up, max grad norm 5, one optimisation
step per generation, log-probs at the sampling temperature. ``configs/dynframe_grpo_released.yaml``
is that trainer; ``configs/dynframe_grpo_trajectory.yaml`` is the ablation baseline, the same
with SD-GRPO's rewards (span IoU 0.3), and ``configs/dynframe_grpo.yaml`` differs from it in the
advantage (``segment``) alone, so the ablation isolates the method. What still differs from the
released trainer, and why: ``docs/training.md``.

**Choices the paper leaves open, and the decisions taken**

- *Rollouts that never retrieve*: the whole rollout is the retrieval segment. Its retrieval reward
  is 0 (no span, no density), it takes part in the group's retrieval statistics with that 0, and
  all its sampled tokens get that retrieval advantage; its answer reward is computed (and counts
  in the group's answer statistics) but credits none of its tokens. Why: the paper splits at
  ``</fps>`` into tokens before and after the injection, and without ``</fps>`` every token is
  before it; not retrieving *is* the sampling decision, so the sampling reward judges it; crediting
  an answer given without evidence would teach the model to skip retrieval whenever it guesses
  well, the failure the decoupling exists to prevent; and the released reward agrees (no ``<fps>``:
  fps reward 0). Rejected alternative: the answer advantage on all tokens — the zero retrieval
  reward would then only lift the other rollouts and never push back on skipping. A group in which
  no rollout retrieves has no retrieval signal (all rewards 0, advantage 0).
- *Several retrievals*: the boundary is the **first** ``</fps>`` and the retrieval reward scores the
  first request; later requests and the reasoning between belong to the answer segment. Why: the
  paper's trajectory ``{V0, T1, C1, V1, T2, A}`` has one retrieval ("multi-granularity evidence with
  a single retrieval step"); the released rewards read the first ``<span>``/``<fps>``; and so the
  tokens that receive the retrieval advantage are exactly those that wrote the scored request.
  Rejected: the last ``</fps>`` (would credit intermediate reasoning with a retrieval reward) and
  per-request segments (the single annotated span defines no reward for a deliberate overview
  before a dense look).
- *Format reward*: the answer segment only, as the paper assigns it ("answer reward + format
  reward"). Its 0.2 for paired ``<span>``/``<fps>`` tags thus lands after the retrieval; a malformed
  first request is still punished in its own segment, because an unreadable request scores 0
  retrieval reward.
- *Aggregating rewards within a segment*: as released, ``normalize_then_sum`` with
  ``scale_rewards="group"`` (each reward group-normalised, weighted, and the sum normalised by its
  own group's mean and std); each segment's sum is scaled per group, so every prompt's retrieval
  and answer advantages come out at unit scale whatever the other prompts of the batch did.
  ``sum_then_normalize`` is available.
- *Retrieval weights*: span IoU 0.3 and fps 0.3 (the paper sums "IoU + FPS match"; 0.3 is the
  release's fps weight). Answer weights: format 0.1, accuracy 0.6, as released.
- *Loss normalisation*: per-rollout token mean, then the mean over rollouts (TRL's ``grpo``, as
  released) in both recipes; a global token mean is available (``normalization: token``).
- *KL*: k3 to the reference model (the SFT checkpoint), beta 0.02, per sampled token, normalised
  like the surrogate (as TRL does).
- *Rejected requests* (unreadable or over budget): their tokens are sampled and keep their
  advantage; the runtime's note is injected (mask 0) and is not in the text the rewards read
  (only sampled tokens are). A rejected first request still sets the boundary; a readable one is
  scored on what it asked, an unreadable one scores 0.
- *Temperature*: old, new and reference log-probs are taken under ``softmax(logits / T)`` at the
  rollouts' temperature (as released, TRL), so ratio, clip region and KL all refer to the
  distribution that sampled; top-k / top-p / repetition penalty shape the draw only.

With one optimisation step per generation (the release) the ratio is exactly 1 when the loss is
computed, so clipping only acts with several steps per generation; the KL term acts regardless.
"""
