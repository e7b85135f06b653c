import re

from effmnist.progress import TextBar, in_notebook, progress_bar


class Recorder:
    """Stands in for IPython's display handle: keeps every frame drawn."""

    def __init__(self):
        self.frames = []

    def __call__(self, text):
        self.frames.append(text)
        return self

    def update(self, text):
        self.frames.append(text)


def test_the_last_frame_shows_a_finished_run():
    shown = Recorder()
    bar = TextBar(total=844, desc="training (reference)", show=shown, every=0.0)
    for i in range(844):
        bar.update(1)
        if i % 20 == 19:
            bar.set_postfix(loss="0.071", acc="94.3%")
    bar.close()
    assert shown.frames[0].startswith("training (reference):   0%|")
    assert re.match(r"training \(reference\): 100%\|#+\| 844/844 \[", shown.frames[-1])
    assert "loss=0.071, acc=94.3%" in shown.frames[-1]


def test_in_a_terminal_the_bar_is_tqdm():
    assert not in_notebook()
    bar = progress_bar(3, "x")
    assert type(bar).__module__.startswith("tqdm")
    bar.close()
