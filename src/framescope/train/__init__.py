"""Training: typed configs (:mod:`framescope.train.config`) and SD-GRPO's pure parts
(:mod:`framescope.train.grpo`: rewards, advantages, policy loss)."""
