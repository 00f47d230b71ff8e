"""What each benchmark dataset is: files, columns, properties and units, upstream URL and checksums.

Checksums: a file is accepted when its sha256 is one we know (the gzipped copies in
`shared/data`) or when the git blob id of its uncompressed bytes equals upstream's
(`git hash-object FILE`), which is how a fresh download is checked.
"""
from __future__ import annotations

from dataclasses import dataclass, field

CDVAE_URL = "https://raw.githubusercontent.com/txie-93/cdvae/main/data/{dataset}/{split}.csv"
DIFFCSP_URL = "https://raw.githubusercontent.com/jiaor17/DiffCSP/main/data/{dataset}/{split}.csv"


@dataclass(frozen=True)
class SplitSpec:
    upstream_blob: str                      # git blob id of upstream's uncompressed CSV
    sha256: tuple[str, ...] = ()            # other accepted file hashes (gz and raw copies)
    rows: int | None = None


@dataclass(frozen=True)
class PropertySpec:
    column: str
    unit: str
    description: str


@dataclass(frozen=True)
class DatasetSpec:
    name: str
    title: str
    url_template: str
    splits: dict[str, SplitSpec]
    properties: dict[str, PropertySpec]
    default_property: str
    max_atoms: int
    # CDVAE evaluation key and COV thresholds (structure, composition)
    eval_key: str
    cov_cutoffs: tuple[float, float]
    citation: str
    id_column: str = "material_id"
    formula_column: str | None = None
    notes: str = ""
    extra: dict = field(default_factory=dict)

    def url(self, split: str) -> str:
        return self.url_template.format(dataset=self.name, split=split)


def _props(*items: tuple[str, str, str]) -> dict[str, PropertySpec]:
    return {col: PropertySpec(col, unit, desc) for col, unit, desc in items}


DATASETS: dict[str, DatasetSpec] = {
    "perov_5": DatasetSpec(
        name="perov_5", title="Perov-5", url_template=CDVAE_URL,
        splits={
            "train": SplitSpec("0769074b5d51d293b765c4371b8f55c468c9c9f2", rows=11356),
            "val": SplitSpec("4a2c8dde98347dd0e01fa83dcf3982c2abe98f9f", (
                "784e89dc6b8879382b2b25cf3cc0c75a3c1160f8242b2090006931a24a0f5c45",
                "326f401219901270374b71e2faff63df3a29a99fd26f469993b9f476b693daf2"), 3787),
            "test": SplitSpec("d3c5d5af4b27a2a139149f2bb73c8a3dba9d8ac1", (
                "b635a7e4803ce8abc147da102a5ac5df1a2c9fc74fc4854afb7eac54c839420c",
                "a85878c685037f0a578257f6d4fcdde00e968dbab73c5f1e90ecef65218513f6"), 3785),
        },
        properties=_props(
            ("heat_ref", "eV/atom", "heat of formation (the property CDVAE and DiffCSP use)"),
            ("heat_all", "eV/atom", "heat of formation, other reference"),
            ("dir_gap", "eV", "direct band gap"),
            ("ind_gap", "eV", "indirect band gap"),
        ),
        default_property="heat_ref", max_atoms=20, eval_key="perovskite", cov_cutoffs=(0.2, 4.0),
        formula_column="formula",
        citation="Castelli et al., Energy Environ. Sci. 2012; splits from CDVAE (Xie et al. 2021)",
        notes="cubic ABX3 perovskites, exactly 5 atoms per cell; units of heat_* not stated upstream",
    ),
    "carbon_24": DatasetSpec(
        name="carbon_24", title="Carbon-24", url_template=CDVAE_URL,
        splits={
            "train": SplitSpec("5e7ae970fbad8ddc46b6963e8cd6e425f11783a6", rows=6091),
            "val": SplitSpec("b3e29b927883642426ca1d9632d00359b412742b", (
                "bf1d3e91bbd70e0c84b3be67c19ddcc796331b797a08a9e275691a3b7a564dec",
                "36c00689cd63073c954a58bc6ed6e2adb7aeed5a630c994970959a1babffd50e"), 2032),
            "test": SplitSpec("9beca843fde489de1fe288b32f9e3ff710d42803", (
                "f51a69674f1d15fb06fa8be60f09abbda60283f77fd1a21d44d6ec2c9a039f65",
                "386b17c08816f434818d51e46687bf72ff3f92348f3ba24823e4758f1fe8a969"), 2030),
        },
        properties=_props(("energy_per_atom", "eV/atom", "DFT total energy per atom at 10 GPa")),
        default_property="energy_per_atom", max_atoms=24, eval_key="carbon", cov_cutoffs=(0.2, 4.0),
        citation="Pickard, Materials Cloud 2020 (doi:10.24435/materialscloud:2020.0026/v1); splits from CDVAE",
        notes="carbon only, 6-24 atoms per cell (AIRSS structures at 10 GPa)",
    ),
    "mp_20": DatasetSpec(
        name="mp_20", title="MP-20", url_template=CDVAE_URL,
        splits={
            "train": SplitSpec("b1c9d498565ac2fd8d075a51ff2ef5e51ba6c21f", rows=27136),
            "val": SplitSpec("7efe4d7ebeb4f460ceaad35e5326c42111d9c9a1", (
                "a21421165e26b3120df8a856b33384b6e68fda80a95ecf41004035726e6fc006",
                "e0b070bdbc5fb92d837d8df215e89296043bc0b18660a14a76ac3898e32a67a5"), 9047),
            "test": SplitSpec("5dc643041df53f5ce4970a79930ad262b4f07acd", (
                "d850a97dc33ca262ffe0e8367fc1541e41c36befb74d3394e6f582bb36f99058",
                "cf9a74685ef09bed590d8248c7d7e32900795319e4039ef423d634900ec544be"), 9046),
        },
        properties=_props(
            ("formation_energy_per_atom", "eV/atom", "formation energy per atom"),
            ("band_gap", "eV", "band gap (PBE)"),
            ("e_above_hull", "eV/atom", "energy above the convex hull"),
        ),
        default_property="formation_energy_per_atom", max_atoms=20, eval_key="mp20", cov_cutoffs=(0.4, 10.0),
        formula_column="pretty_formula",
        citation="Materials Project (Jain et al., APL Mater. 2013, CC BY 4.0); splits from CDVAE",
        notes="1-20 atoms per cell, e_above_hull < 0.08 eV/atom",
    ),
    "mpts_52": DatasetSpec(
        name="mpts_52", title="MPTS-52", url_template=DIFFCSP_URL,
        splits={
            "train": SplitSpec("28c53b0a0fd3f32fb8078aca8e5b484e372790c6", rows=27380),
            "val": SplitSpec("a377ba0ca7bee37ee69d9f50f8362eaa35d9f690", (
                "3231ce7b3851301762170881f3b4f144658145ee65c9551eac448593f1eab5e1",
                "b5d9f7a8ff72f3a1f24d6bb97e11ad201be40d10be7b27924234da06af04baba"), 5000),
            "test": SplitSpec("2e8af159618f63be346b6527f155514323964423", (
                "227613453d1bf09fa25510385d90031a8b8f05d1b6f65516f02918c3784af104",
                "4d6e76c4726fb12fb2a7e5bb23594f9b82dbd9bf67b7bfd4866e9c74a8f49038"), 8096),
        },
        properties=_props(
            ("formation_energy_per_atom", "eV/atom", "formation energy per atom"),
            ("energy_above_hull", "eV/atom", "energy above the convex hull"),
        ),
        default_property="formation_energy_per_atom", max_atoms=52, eval_key="mp20", cov_cutoffs=(0.4, 10.0),
        citation="Baird et al., mp-time-split; splits from DiffCSP (Jiao et al. 2023)",
        notes="time split: val years 1997-2004, test 2004-2013; 1-52 atoms per cell",
    ),
}


class UnknownDatasetError(KeyError):
    def __str__(self) -> str:  # KeyError quotes its message; keep it readable
        return self.args[0]


def get_spec(name: str) -> DatasetSpec:
    try:
        return DATASETS[name]
    except KeyError:
        raise UnknownDatasetError(f"unknown dataset {name!r}: known datasets are {sorted(DATASETS)}") from None
