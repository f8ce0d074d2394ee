"""Training: typed configs (:mod:`framescope.train.config`), the SFT recipe
(:mod:`framescope.train.sft`: DynFrame DM-CoT, VideoMind roles, the grounder's head in
:mod:`framescope.train.grounder_head`), SD-GRPO (:mod:`framescope.train.grpo`: pure rewards,
advantages and policy loss; rollouts through the retrieval loop and the recipe in
``grpo.rollout`` / ``grpo.trainer``), and what the recipes share (:mod:`framescope.train.runtime`,
:mod:`framescope.train.checkpoint`, :mod:`framescope.train.model`,
:mod:`framescope.train.records`)."""
