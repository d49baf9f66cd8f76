"""The data's source travels from the BIDS description to info.json and figure credits."""

from __future__ import annotations

import numpy as np
from matplotlib.figure import Figure

from pipeline.evaluation import plots
from pipeline.io import write_json
from pipeline.provenance import credit_line, read_source

HAXBY_LIKE = {
    "Name": "Haxby et al. (2001)", "BIDSVersion": "1.9.0", "License": "CC BY-SA 3.0",
    "Authors": ["James V. Haxby", "M. Ida Gobbini"],
    "ReferencesAndLinks": ["https://doi.org/10.1126/science.1063736"],
}


def test_source_is_read_from_the_description_and_credited(tmp_path):
    write_json(HAXBY_LIKE, tmp_path / "dataset_description.json")
    source = read_source(tmp_path)
    assert source == {"name": "Haxby et al. (2001)", "license": "CC BY-SA 3.0",
                      "authors": ["James V. Haxby", "M. Ida Gobbini"],
                      "references": ["https://doi.org/10.1126/science.1063736"]}
    assert credit_line(source) == ("Data: Haxby et al. (2001) (James V. Haxby et al.), "
                                   "https://doi.org/10.1126/science.1063736, CC BY-SA 3.0")


def test_unlicensed_or_undescribed_data_get_no_credit_line(tmp_path):
    assert read_source(tmp_path) == {}
    write_json({"Name": "simulated", "Authors": ["brainrecon simulator"]},
               tmp_path / "dataset_description.json")
    assert credit_line(read_source(tmp_path)) is None


def test_saved_figures_carry_the_credit_text(tmp_path, monkeypatch):
    texts: list[str] = []
    original = Figure.savefig

    def spy(figure, *args, **kwargs):
        texts.extend(text.get_text() for text in figure.texts)
        return original(figure, *args, **kwargs)

    monkeypatch.setattr(Figure, "savefig", spy)
    figure = Figure()
    figure.subplots().plot(np.arange(3))
    plots._save(figure, tmp_path / "with.png", "Data: X (Y et al.), CC BY 4.0")
    assert texts == ["Data: X (Y et al.), CC BY 4.0"]
    plots._save(Figure(), tmp_path / "without.png")
    assert texts == ["Data: X (Y et al.), CC BY 4.0"]
