"""The names of the CAM methods mmcam supports, and their families.

Plain data without imports: ``tools/vis_cam.py`` reads this file for
``--help`` and ``--list-methods`` without importing mmcam (which loads
torch and takes seconds). :mod:`mmcam.cam.methods` builds the methods
from it.

Families decide how :class:`~mmcam.cam.CAMEngine` runs a method:

- ``activation``: the heatmap needs only the target layer's activations
  (EigenCAM, KPCA_CAM, FEM): one forward pass, no backward.
- ``gradient``: it needs activations and d(score)/d(activation) (GradCAM and
  its relatives): one forward and a backward that stops at the target layer.
- ``perturbation``: the method runs the model on perturbed inputs or
  activations (ScoreCAM, AblationCAM: batched in
  :mod:`mmcam.cam.perturbation`, one pass for every class, no gradients).
- ``full-backward``: gradients, but beyond the target layer: FullGrad
  takes the input's and every bias's, ShapleyCAM second-order terms; run
  by grad-cam's own ``forward`` with a backward through the whole network.
- ``attention``: the heatmap comes from a vision transformer's own attention
  probabilities over its tokens (AttentionRollout: one forward pass; GAE:
  one forward and a backward that stops at the first block's attention),
  in :mod:`mmcam.cam.attention_cam`; no target layer.
"""

# (name as grad-cam spells its class, family), in the order users see them.
METHOD_FAMILIES = (
    ('GradCAM', 'gradient'),
    ('GradCAMPlusPlus', 'gradient'),
    ('XGradCAM', 'gradient'),
    ('EigenGradCAM', 'gradient'),
    ('LayerCAM', 'gradient'),
    ('HiResCAM', 'gradient'),
    ('GradCAMElementWise', 'gradient'),
    ('RandomCAM', 'gradient'),
    ('EigenCAM', 'activation'),
    ('KPCA_CAM', 'activation'),
    ('FEM', 'activation'),
    ('ScoreCAM', 'perturbation'),
    ('AblationCAM', 'perturbation'),
    ('FullGrad', 'full-backward'),
    ('ShapleyCAM', 'full-backward'),
    ('AttentionRollout', 'attention'),
    ('GAE', 'attention'),
)

# Lower-case aliases: MMPretrain's vis_cam.py spelling (``gradcam++``) and
# the spellings users type for the same methods.
ALIASES = {
    'gradcam++': 'GradCAMPlusPlus',
    'kpcacam': 'KPCA_CAM',
    'kpca-cam': 'KPCA_CAM',
    'rollout': 'AttentionRollout',
    'attention-rollout': 'AttentionRollout',
}


def method_listing() -> str:
    """One line per method: its name, family and aliases."""
    width = max(len(name) for name, _ in METHOD_FAMILIES) + 2
    lines = []
    for name, family in METHOD_FAMILIES:
        aliases = [a for a, target in ALIASES.items() if target == name]
        also = f'  (also: {", ".join(aliases)})' if aliases else ''
        lines.append(f'{name:<{width}}{family:<14}{also}'.rstrip())
    return '\n'.join(lines)
