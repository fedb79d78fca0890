"""Seed 000 (Khan et al.): muscle-mass level from electrically stimulated sEMG.

* :mod:`.pipeline` — :class:`StimulatedMassPipeline` for the experiment runner
  (``myoflow run configs/stimulated_mass.yaml`` / ``myoflow reproduce stimulated-mass``);
* :mod:`.features` — artefact blanking, stimulus-locked responses, sequence inputs, descriptors;
* the estimator, :class:`~myoflow.models.attention_bilstm.MassLevelClassifier`, lives in ``myoflow.models``;
* :mod:`.baselines`, :mod:`.summary` — baselines, metrics with subject-bootstrap CIs (figures:
  :mod:`myoflow.report.figures.stimulated_mass`);
* :mod:`.screening` / :mod:`.cli` — ``myoflow predict`` for a new person.

Submodules are imported on use (``import myoflow.pipelines.stimulated_mass.pipeline``) so that
importing the package does not pull in torch.
"""
__all__: list[str] = []
