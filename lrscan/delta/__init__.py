"""Fine-tune deltas (task vectors): ΔW = W_tuned − W_base per (layer, role).

    pairing   open base + tuned checkpoints with the scan engine's reader and registry, check
              that they are the same architecture, and stream matching matrices side by side
    angles    top-k singular subspaces of a delta, principal angles between two of them
The orchestration and output files are in lrscan.diff (`lrscan diff`).
"""
