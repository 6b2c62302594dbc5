# A Flax-style model file: the heads are called through __call__, nothing defines a torch forward.
import flax.linen as nn


class TinyModule(nn.Module):
    def __call__(self, x):
        return x


class TinyForCausalLM(TinyPreTrainedModel):
    module_class = TinyModule
