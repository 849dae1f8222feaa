"""Dataset readers (folder layouts of the public signature datasets) and the dataset store.

``available_datasets`` maps each ``--dataset`` name to its reader class.
"""

from sigver.datasets.base import DatasetReader
from sigver.datasets.bhsig import BHSig260Dataset
from sigver.datasets.brazilian import BrazilianDataset, BrazilianDatasetWithoutSimpleForgeries
from sigver.datasets.cedar import CedarDataset
from sigver.datasets.folder import FolderDataset
from sigver.datasets.gpds import GPDSDataset, GPDSSynthDataset
from sigver.datasets.mcyt import MCYTDataset

available_datasets: dict[str, type[DatasetReader]] = {
    reader.name: reader
    for reader in (GPDSDataset, GPDSSynthDataset, MCYTDataset, CedarDataset, BrazilianDataset,
                   BrazilianDatasetWithoutSimpleForgeries, BHSig260Dataset, FolderDataset)
}

__all__ = ["DatasetReader", "available_datasets"]
