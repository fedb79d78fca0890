"""Reading and writing recordings.

* :func:`read` — any supported file or dataset folder → containers.
* :func:`plan_from_bids` — a BIDS-EMG dataset → items for ``myoflow convert --bids``.
* :mod:`~myoflow.io.native` — :func:`save` / :func:`load`, the exact HDF5 format.
* :func:`write_dataset` / :func:`load_dataset` — the standard dataset folder.
* :func:`read_wfdb` — PhysioNet WFDB records (``.hea`` + ``.dat``).
* :func:`read_poly5` — TMSi Poly5 files (SAGA, Refa, Porti).
* :func:`read_otb` — OT Bioelettronica ``.otb+`` (OTBioLab+) HD-sEMG files.
* :func:`write_edf` — EDF+/BDF+ export; :func:`to_nwb` — NWB export.
* :mod:`~myoflow.io.interop` — MNE (:func:`to_mne` / :func:`from_mne`) and :func:`from_dataframe`.
* :mod:`~myoflow.io.datasets` — loaders for the public datasets in ``../shared/data``.
"""
from .bids import is_bids_root, plan_from_bids
from .c3d import read_c3d
from .dataset import Dataset, is_dataset_folder, load_dataset, write_dataset
from .datasets import (
    DATASETS,
    detect_dataset,
    load_biosignalsnotebooks,
    load_ceinms_gait,
    load_elderly_lowerlimb,
    load_openhdemg_otb,
    load_pyomeca,
    load_stim_artefact_tscs,
)
from .edf import read_edf, write_edf
from .interop import from_dataframe, from_mne, read_nwb, to_mne, to_nwb
from .intan import read_rhd
from .matlab import read_mat
from .native import load, save
from .opensignals import read_opensignals
from .opensim import read_opensim
from .poly5 import read_poly5
from .otb import read_otb
from .reader import read, supported_suffixes
from .summary import describe
from .tabular import read_csv
from .wfdb import read_wfdb
from .xdf import read_xdf

__all__ = [
    "read", "supported_suffixes", "describe", "plan_from_bids", "is_bids_root",
    "save", "load",
    "Dataset", "write_dataset", "load_dataset", "is_dataset_folder",
    "read_edf", "write_edf", "read_csv", "read_mat", "read_c3d", "read_opensim", "read_opensignals",
    "read_xdf", "read_rhd", "read_wfdb", "read_poly5", "read_otb", "read_nwb", "to_nwb", "to_mne", "from_mne", "from_dataframe",
    "DATASETS", "detect_dataset",
    "load_elderly_lowerlimb", "load_ceinms_gait", "load_pyomeca", "load_openhdemg_otb",
    "load_stim_artefact_tscs", "load_biosignalsnotebooks",
]
