"""VideoMind's role agent (Chain-of-LoRA): planner, grounder, verifier, answerer over one base model.

:func:`~framescope.agent.agent.run_agent` is the one agent loop; the ``videomind`` method
(:class:`~framescope.agent.agent.VideoMindAgent`) and ``framescope infer --method videomind`` call
it, one :class:`~framescope.agent.session.AgentSession` per batch. Each role's prompt, parsing
and span rules live in its own module.
"""
