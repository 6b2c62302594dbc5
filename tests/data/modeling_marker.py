import pathlib, os

pathlib.Path(os.environ.get("ARCHREAD_MARKER", "/tmp/archread-marker")).write_text("executed")


class MarkerForCausalLM:
    def forward(self, input_ids):
        return input_ids
