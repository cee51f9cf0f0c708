"""The `bench` command line (click). Every user error exits 2 with one clear paragraph."""

from __future__ import annotations

from pathlib import Path

import click

from bench.errors import BenchError
from bench.seeds import SEEDS_HELP, seed_list


class _BenchGroup(click.Group):
    """Turns BenchError into 'Error: ...' on stderr and exit code 2, without a traceback."""

    def invoke(self, ctx):
        try:
            return super().invoke(ctx)
        except BenchError as exc:
            click.echo(f"Error: {exc}", err=True)  # one paragraph; not wrapped, so paths stay whole
            ctx.exit(exc.exit_code)
        except KeyboardInterrupt:
            click.echo("\nInterrupted. Run the same command again to resume from the last checkpoint.", err=True)
            ctx.exit(130)


@click.group(cls=_BenchGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="interpbench")
def cli():
    """interpbench: benchmark interpolative autoencoders on cross-domain pairs."""


def _device_option(what: str = ""):
    where = f" ({what})" if what else ""
    return click.option("--device", default="auto", show_default=True, help=f"Device{where}: auto (cuda > mps > cpu), cpu, cuda, cuda:N or mps.")


def _plugin_option(what: str = ""):
    where = f" ({what})" if what else ""
    return click.option("--plugin", "plugins", multiple=True, metavar="MODULE_OR_FILE", help=f"Import a module (my_module, or path/to/file.py) that registers extra models{where}. Repeatable.")


def _data_dir_option(f):
    return click.option(
        "--data-dir",
        type=click.Path(file_okay=False, path_type=Path),
        default=None,
        help="Root holding datasets in torchvision's layout (default: $BENCH_DATA_DIR or a per-user cache).",
    )(f)


def _metric_options(f):
    f = click.option("--require-fid", is_flag=True, help="Make missing Inception weights an error instead of skipping the FID column with a warning.")(f)
    f = click.option("--pairing", type=click.Choice(["same-class", "any"]), default="same-class", show_default=True, help="How FID interpolation pairs of novel-domain test images are drawn (same class where labels exist, as in few-shot generation).")(f)
    return click.option("--metrics", "metrics_spec", default="all", show_default=True, help="'all' (every metric that applies) or a comma-separated list (see `bench metrics`).")(f)


def _parse_metrics(spec: str):
    """None for 'all'; otherwise the validated list of metric names."""
    from bench.api import metric_names

    return metric_names(spec)


@cli.command()
@click.option("--models", "models_spec", default="all", show_default=True, help="'all' or a comma-separated list of model names.")
@click.option("--pair", required=True, help="Domain pair, e.g. mnist-emnist (see `bench pairs`).")
@click.option("--budget", default=None, help="smoke, quick or paper (default: paper on CUDA, else quick).")
@click.option("--seeds", default=None, help="Which seeds to run (default 0): " + SEEDS_HELP)
@click.option("--n-seeds", type=int, default=None, help="How many seeds: N runs seeds 0 to N-1 (instead of --seeds).")
@_device_option()
@_data_dir_option
@click.option("--offline", is_flag=True, help="Never download: refuse with the list of missing files instead (also BENCH_OFFLINE=1). By default missing datasets and the FID weights are downloaded on first use.")
@click.option("--download", is_flag=True, hidden=True, help="Accepted for old scripts: downloading is the default.")
@click.option("--out", "out_dir", type=click.Path(file_okay=False, path_type=Path), default=Path("runs"), show_default=True, help="Root of the run directories.")
@click.option("--leaderboard-dir", type=click.Path(file_okay=False, path_type=Path), default=None, help="Where <pair>.csv gains a row per run (default: the --out folder, next to the run directories).")
@click.option("--set", "overrides", multiple=True, metavar="KEY=VALUE", help="Override a hyperparameter (model.key=value for one model). Repeatable.")
@_plugin_option()
@click.option("--precision", type=click.Choice(["auto", "bf16", "fp32"]), default="auto", show_default=True, help="auto: bf16 autocast on CUDA, fp32 elsewhere; fp32 on CUDA also turns TF32 off.")
@click.option("--compile", "compile_step", is_flag=True, help="torch.compile each model's training step (off by default: no gain measured yet; compare with `bench perf --compile`).")
@click.option("--no-graphs", is_flag=True, help="On CUDA, run each training step eagerly instead of replaying it as a captured CUDA graph (the results are the same; graphs are faster).")
@click.option("--lanes", type=click.IntRange(min=1), default=1, show_default=True, help="Train up to N runs at once in this process, one update of each in turn; each run's results are those it has alone.")
@click.option("--executor", type=click.Choice(["local", "ray"]), default="local", show_default=True, help="local: runs in this process, one after another (or --lanes at once); ray: each run (or group of --lanes runs) as a Ray task, over the GPUs of this machine or a cluster (needs the ray extra; README: Scaling out).")
@click.option("--address", default=None, metavar="auto|HOST:PORT", help="With --executor ray: the Ray cluster to join (default: start Ray on this machine).")
@click.option("--gpus-per-run", type=float, default=None, metavar="F", help="With --executor ray: each task's share of a GPU, e.g. 0.25 for four runs per GPU (default 1 on CUDA, 0 otherwise).")
@click.option("--cpus-per-run", type=float, default=1.0, show_default=True, metavar="N", help="With --executor ray: CPUs Ray reserves for each task.")
@click.option("--force", is_flag=True, help="Retrain runs that already finished or diverged (their files are replaced).")
@click.option("--on-divergence", type=click.Choice(["skip", "stop"]), default="skip", show_default=True, help="When a run's loss or weights become non-finite it is recorded as diverged; skip: go on with the remaining runs; stop: end the invocation (exit 2).")
@click.option("--no-progress", is_flag=True, help="Hide progress bars.")
@click.option("--export-samples", type=click.Path(file_okay=False, path_type=Path), default=None, metavar="DIR", help="Also write each run's scored images to DIR/<pair>/<model>/seed<k>/ (see `bench evaluate --export-samples`).")
@click.option("--tensorboard", is_flag=True, help="Also write each run's logged losses as TensorBoard events in <run>/tensorboard/ (needs the tensorboard extra); <run>/losses.csv is always written.")
@_metric_options
def run(models_spec, pair, budget, seeds, n_seeds, device, data_dir, offline, download, out_dir, leaderboard_dir, overrides, plugins, precision, compile_step, no_graphs, lanes, executor, address, gpus_per_run, cpus_per_run, force, on_divergence, no_progress, export_samples, tensorboard, metrics_spec, pairing, require_fid):
    """Train and score models on a pair; add the results to the pair's leaderboard."""
    from bench import api

    api.run(
        models=models_spec,
        pair=pair,
        budget=budget,
        seeds=seed_list(seeds, n_seeds),
        device=device,
        data_dir=data_dir,
        out=out_dir,
        leaderboard_dir=leaderboard_dir,
        overrides=overrides,
        plugins=plugins,
        metrics=metrics_spec,
        force=force,
        offline=True if offline else None,
        progress=not no_progress,
        echo=click.echo,
        on_divergence=on_divergence,
        precision=precision,
        compile=compile_step,
        graphs=not no_graphs,
        lanes=lanes,
        executor=executor,
        address=address,
        gpus_per_run=gpus_per_run,
        cpus_per_run=cpus_per_run,
        tensorboard=tensorboard,
        export_samples=export_samples,
        pairing=pairing,
        require_fid=require_fid,
    )


@cli.command("models")
@_plugin_option()
def list_models(plugins):
    """List registered models with their family, description and paper."""
    from models import registry

    registry.load_plugins(plugins)
    _print_table(("model", "family", "description", "paper"), registry.describe())


@cli.command("pairs")
@_data_dir_option
def list_pairs(data_dir):
    """List domain pairs with image size, split sizes and whether their data was found; name the
    missing files."""
    from bench import data as data_layer
    from bench.paths import default_data_dir

    root = data_dir or default_data_dir()
    rows, missing = [], {}
    for pair in data_layer.PAIRS.values():
        train, novel = data_layer.get_domain(pair.train), data_layer.get_domain(pair.novel)
        found = train.is_available(root) and novel.is_available(root)
        rows.append(
            (
                pair.name,
                f"{pair.train} -> {pair.novel}",
                f"{train.channels}x{train.size}x{train.size}",
                f"{_sizes(train)} / {_sizes(novel)}",
                "synthetic" if train.kind == novel.kind == "synthetic" else ("yes" if found else "no"),
            )
        )
        missing.update(data_layer.missing_files(pair, root))
    _print_table(("pair", "domains", "image", "train/test (train dom. / novel dom.)", "data found"), rows)
    click.echo(f"\nData root: {root}")
    if missing:
        click.echo("Missing (downloaded there by `bench run` on first use, unless --offline):")
        for name, paths in missing.items():
            click.echo(f"  {name}: " + ", ".join(str(Path(p).relative_to(root)) if Path(p).is_relative_to(root) else str(p) for p in paths))


_INVERT_HELP = (
    "auto: for 1-channel models, invert each image whose 2-pixel border is bright (black-on-white scans "
    "become white-on-black like the suite's character domains); yes: invert all; no: never."
)


def _load_for_images(run_dir, device, plugins):
    from bench.devices import choose_device
    from bench.loading import load_run

    chosen = choose_device(device)
    return load_run(run_dir, device=chosen, plugins=plugins)


def _describe_run(record: dict, model) -> str:
    budget = record.get("budget", {}).get("name", "?") if isinstance(record.get("budget"), dict) else "?"
    shape = "x".join(str(s) for s in record["image_shape"])
    return f"model {record['model']} (pair {record.get('pair', '?')}, seed {record.get('seed', '?')}, budget {budget}, images {shape}) on {model.device}"


def _inverted_note(flags) -> str:
    k = sum(flags)
    return f"; {k} inverted (bright border)" if k else ""


@cli.command("generate")
@click.argument("run_dir", type=click.Path(path_type=Path))
@click.option("--seeds", "seed_paths", multiple=True, required=True, type=click.Path(path_type=Path), metavar="PATH", help="A seed image or a folder of them (.png .jpg .jpeg .bmp .gif .tif); repeatable. At least 2 images.")
@click.option("-n", "count", type=click.IntRange(min=1), default=64, show_default=True, help="Number of images to generate.")
@click.option("--out", type=click.Path(dir_okay=False, path_type=Path), default=Path("generated.png"), show_default=True, help="Grid PNG to write; the single images go to <out stem>_images/000.png ...")
@click.option("--alpha", "alpha_mode", type=click.Choice(["uniform", "mid"]), default="uniform", show_default=True, help="uniform: alpha ~ U(0, 1) per image; mid: alpha = 0.5.")
@click.option("--seed", "rng_seed", type=int, default=0, show_default=True, help="Random seed for the pairs and alphas.")
@click.option("--invert", type=click.Choice(["auto", "yes", "no"]), default="auto", show_default=True, help=_INVERT_HELP)
@_device_option()
@_plugin_option()
def generate(run_dir, seed_paths, count, out, alpha_mode, rng_seed, invert, device, plugins):
    """Few-shot generation: blend random pairs of different seed images with a finished run's model.

    Each new image decodes interpolate(z_a, z_b, alpha) between the latents of two different seeds.
    Seeds of any size are converted to the model's channels and resized to its image size.
    Writes the grid PNG at --out, 8 images per row: the seed images first (their last row padded
    with gray tiles), then the generated images; and every generated image as a PNG in
    <out stem>_images/ (000.png, 001.png, ...). Nothing is written if anything fails.
    """
    from bench.generate import GRID_MAX_GENERATED, GRID_MAX_SEEDS, check_out_path, few_shot_generate, load_seeds, seeds_then_generated, write_generation

    check_out_path(out)
    model, record = _load_for_images(run_dir, device, plugins)
    seeds = load_seeds(seed_paths, model.image_shape, invert=invert, minimum=2, progress=True)
    click.echo(f"bench generate: {_describe_run(record, model)}; {len(seeds.paths)} seed images{_inverted_note(seeds.inverted)}")
    for warning in seeds.warnings:
        click.echo(f"Warning: {warning}", err=True)
    images = few_shot_generate(model, seeds.images, count, alpha_mode=alpha_mode, seed=rng_seed, progress=True)
    grid, folder = write_generation(out, seeds_then_generated(seeds.images, images), images, progress=True)
    shown_seeds, shown = min(len(seeds.paths), GRID_MAX_SEEDS), min(count, GRID_MAX_GENERATED)
    what = f"the {shown_seeds} seeds" if shown_seeds == len(seeds.paths) else f"the first {shown_seeds} of the {len(seeds.paths)} seeds"
    made = f"{count} generated images" if shown == count else f"the first {shown} of the {count} generated images"
    click.echo(f"Wrote {grid} (first {what}, then {made}, 8 per row)")
    click.echo(f"Wrote {count} images to {folder} (000.png ...)")


@cli.command("interpolate")
@click.argument("run_dir", type=click.Path(path_type=Path))
@click.argument("img_a", type=click.Path(path_type=Path))
@click.argument("img_b", type=click.Path(path_type=Path))
@click.option("--steps", type=click.IntRange(min=2), default=9, show_default=True, help="Interpolants, alpha = 0 .. 1 evenly spaced.")
@click.option("--out", type=click.Path(dir_okay=False, path_type=Path), default=Path("interpolation.png"), show_default=True, help="Strip PNG to write.")
@click.option("--invert", type=click.Choice(["auto", "yes", "no"]), default="auto", show_default=True, help=_INVERT_HELP)
@_device_option()
@_plugin_option()
def interpolate(run_dir, img_a, img_b, steps, out, invert, device, plugins):
    """Interpolate between two images with a finished run's model.

    Writes one row at --out: input A, the STEPS decoded interpolants (alpha = 0 .. 1), input B.
    """
    import torch

    from bench.generate import check_out_path, find_images, interpolation_strip, load_image, write_strip

    check_out_path(out)
    model, record = _load_for_images(run_dir, device, plugins)
    for path in (img_a, img_b):
        find_images([path])  # a missing path is named before anything is read
        if path.is_dir():
            raise BenchError(f"{path} is a folder; `bench interpolate` takes two image files.")
    a, flip_a = load_image(img_a, model.image_shape, invert)
    b, flip_b = load_image(img_b, model.image_shape, invert)
    click.echo(f"bench interpolate: {_describe_run(record, model)}{_inverted_note([flip_a, flip_b])}")
    strip = interpolation_strip(model, a, b, steps)
    path = write_strip(out, torch.cat([a[None], strip, b[None]]))
    click.echo(f"Wrote {path} (input A, {steps} interpolants, input B)")


@cli.command("metrics")
def list_metrics():
    """List registered metrics."""
    from bench.catalogue import metric_descriptions

    known = metric_descriptions()
    if known is None:  # a decorator the catalogue cannot read: import the metrics
        from metrics.base import all_metrics

        known = {m.name: m.description for m in all_metrics().values()}
    _print_table(("metric", "description"), list(known.items()))


@cli.command("evaluate")
@click.argument("run_dir", type=click.Path(path_type=Path))
@_metric_options
@click.option("--encoder", type=click.Choice(["model", "oracle"]), default="model", show_default=True, help="model: the run's encoder (a GAN's inversion network + refinement); oracle: per-image latent optimisation from a random start (keys get the suffix _oracle).")
@_device_option()
@_data_dir_option
@click.option("--leaderboard-dir", type=click.Path(file_okay=False, path_type=Path), default=None, help="Also replace the run's row in <dir>/<pair>.csv.")
@click.option("--export-samples", type=click.Path(file_okay=False, path_type=Path), default=None, metavar="DIR", help="Also write the generated and reference images the metrics scored to DIR (PNGs, index.csv), to recompute FID with pytorch-fid or `bench fid`.")
@_plugin_option()
def evaluate_cmd(run_dir, metrics_spec, pairing, require_fid, encoder, device, data_dir, leaderboard_dir, export_samples, plugins):
    """Recompute metrics on a finished run and merge them into its metrics.json."""
    from bench import api

    new = api.evaluate(run_dir, metrics_spec, device, data_dir, pairing, encoder, require_fid, plugins, leaderboard_dir, echo=click.echo, export_samples=export_samples)
    _print_table(("metric", "value", "seconds"), [(k, f"{v['value']:.4g}", f"{v['seconds']:.1f}") for k, v in sorted(new.items())])
    click.echo(f"Updated {Path(run_dir) / 'metrics.json'}")


@cli.command("recon-matrix")
@click.argument("run_dirs", nargs=-1, required=True, type=click.Path(path_type=Path))
@click.option("--out", type=click.Path(dir_okay=False, path_type=Path), default=Path("recon_matrix.csv"), show_default=True, help="CSV to write (rows: runs, columns: evaluation domains).")
@click.option("--max-images", type=click.IntRange(min=1), default=2000, show_default=True, help="Test images per evaluation domain.")
@_device_option()
@_data_dir_option
@click.option("--no-progress", is_flag=True, help="Hide the progress bar.")
def recon_matrix_cmd(run_dirs, out, max_images, device, data_dir, no_progress):
    """Reconstruction L2 of trained runs on every domain of their image size (paper Table 1)."""
    from bench.devices import choose_device
    from bench.paths import default_data_dir
    from bench.recon_matrix import recon_matrix, write_table

    table = recon_matrix(run_dirs, data_dir or default_data_dir(), choose_device(device), max_images, echo=click.echo,
                         progress=not no_progress)
    write_table(table, out)
    click.echo("\n" + table.drop(columns=["run"]).to_string(index=False, float_format=lambda v: f"{v:.2f}"))
    click.echo(f"Wrote {out}")


@cli.command("fid")
@click.argument("path_a", type=click.Path(path_type=Path))
@click.argument("path_b", type=click.Path(path_type=Path), required=False)
@click.option("--save-stats", type=click.Path(dir_okay=False, path_type=Path), default=None, help="Write PATH_A's statistics (mu, sigma) to this .npz, in pytorch-fid's format.")
@click.option("--batch-size", type=click.IntRange(min=1), default=50, show_default=True, help="Images per Inception batch.")
@click.option("--extractor", type=click.Choice(["inception", "domain"]), default="inception", show_default=True, help="inception: pytorch-fid's pool3 (FID); domain: the pair's domain classifier (the suite's fid_domain; needs --pair).")
@click.option("--pair", default=None, help="With --extractor domain: the pair whose domain classifier gives the features.")
@click.option("--budget", default="quick", show_default=True, help="With --extractor domain: the budget the classifier is trained at (as the runs it compares with).")
@_data_dir_option
@_device_option()
@click.option("--offline", is_flag=True, help="Never download the Inception weights (default: download on first use unless BENCH_OFFLINE=1).")
@click.option("--no-progress", is_flag=True, help="Hide the progress bar.")
def fid_cmd(path_a, path_b, save_stats, batch_size, extractor, pair, budget, data_dir, device, offline, no_progress):
    """FID between two folders of images, or a folder and a .npz of statistics (pytorch-fid's
    reading, Inception network and format; the suite's Fréchet distance). With --save-stats and
    no PATH_B: only write PATH_A's statistics."""
    from bench.fid_folders import fid_command

    fid_command(path_a, path_b, save_stats, batch_size, extractor, pair, budget, data_dir, device, offline, not no_progress, click.echo)


@cli.group("figure")
def figure():
    """Paper figures from finished runs."""


@figure.command("generalization")
@click.argument("run_dirs", nargs=-1, required=True, type=click.Path(path_type=Path))
@click.option("--out", type=click.Path(dir_okay=False, path_type=Path), default=Path("generalization.png"), show_default=True, help="PNG to write.")
@click.option("-n", "count", type=click.IntRange(min=1, max=32), default=8, show_default=True, help="Images per row.")
@_device_option()
@_data_dir_option
def figure_generalization(run_dirs, out, count, device, data_dir):
    """Paper Figure 2: inputs, reconstructions, samples, and novel-domain reconstructions through
    the encoder / inversion and the oracle encoder, one panel per run."""
    from bench.devices import choose_device
    from bench.figure_generalization import generalization_figure
    from bench.paths import default_data_dir

    path = generalization_figure(run_dirs, out, data_dir or default_data_dir(), choose_device(device), count, echo=click.echo)
    click.echo(f"Wrote {path}")


@cli.command("perf")
@_device_option()
@click.option("--models", "models_spec", default=None, help="'all' or a comma-separated list of trainable models (default: ae,augintae on a CPU, all on CUDA).")
@click.option("--out", type=click.Path(dir_okay=False, path_type=Path), default=Path("leaderboards/perf.csv"), show_default=True, help="CSV to write (one row per figure).")
@click.option("--quick", is_flag=True, help="Toy sizes: every figure in seconds (for tests; the numbers are not meaningful).")
@click.option("--compile", "compile_step", is_flag=True, help="torch.compile the training step (a failure is recorded in the row and the step measured eager).")
@click.option("--precision", type=click.Choice(["auto", "bf16", "fp32"]), default="auto", show_default=True, help="Training precision policy, as `bench run`: auto = bf16 autocast on CUDA, fp32 elsewhere.")
@click.option("--channels-last", is_flag=True, help="Train in channels_last memory format.")
@click.option("--threads", type=click.IntRange(min=1), default=None, help="torch intra-op threads (default: torch's choice, one per core).")
@click.option("--no-graphs", is_flag=True, help="On CUDA, time eager training steps (as `bench run --no-graphs`) and leave out the graph, lanes and bf16 figures.")
def perf_cmd(device, models_spec, out, quick, compile_step, precision, channels_last, threads, no_graphs):
    """Speed figures next to their baselines: augmentation, training per model, FID (see README)."""
    from bench.devices import choose_device
    from bench.perf import PerfOptions, run_perf
    from bench.perf.report import readable

    opts = PerfOptions(choose_device(device), models_spec, out, quick, compile_step, precision, channels_last, threads, graphs=not no_graphs)
    frame = run_perf(opts, echo=click.echo)
    click.echo("\n" + readable(frame))
    click.echo(f"Wrote {out}")


def _publish_options(f):
    f = _plugin_option("for --images with plug-in runs")(f)
    f = _device_option("for --images")(f)
    f = _data_dir_option(f)
    f = click.option("--images/--no-images", default=False, show_default=True, help="Also draw the interpolation and few-shot image grids (loads every model and the pair's data); --no-images keeps the grids already published.")(f)
    f = click.option("--out", "out_dir", type=click.Path(file_okay=False, path_type=Path), default=Path("leaderboards"), show_default=True, help="Folder receiving <pair>/ (runs.csv, leaderboard.csv, README.md, plots).")(f)
    return click.option("--runs", "runs_dir", type=click.Path(file_okay=False, path_type=Path), default=Path("runs"), show_default=True, help="Runs folder (the --out of `bench run`): <pair>/<model>/seed<k>/.")(f)


def _image_options(images, data_dir, device, plugins):
    if not images:
        return None
    from bench.devices import choose_device
    from bench.paths import default_data_dir
    from bench.publish.writer import ImageOptions
    from models import registry

    registry.load_plugins(plugins)
    return ImageOptions(data_dir=data_dir or default_data_dir(), device=choose_device(device))


@cli.command("leaderboard")
@click.option("--pair", required=True, help="Domain pair, e.g. omniglot (see `bench pairs`).")
@_publish_options
def leaderboard_cmd(pair, runs_dir, out_dir, images, data_dir, device, plugins):
    """Aggregate every run of a pair: <out>/<pair>/runs.csv, leaderboard.csv (mean and 95% CI per
    model and budget), README.md and plots. All files are replaced together or not at all."""
    from bench.publish import publish_pair

    publish_pair(runs_dir, pair, out_dir, images=_image_options(images, data_dir, device, plugins), echo=click.echo)
    click.echo(f"Wrote {out_dir / pair}/ (README.md, runs.csv, leaderboard.csv, plots)")


@cli.command("publish")
@_publish_options
def publish_cmd(runs_dir, out_dir, images, data_dir, device, plugins):
    """Regenerate <out>/ from the runs: every pair found under --runs, and the index README.md.
    Deterministic and all-or-nothing; other files in <out> (perf.md, perf.csv) are left alone."""
    from bench.publish import publish

    publish(runs_dir, out_dir, images=_image_options(images, data_dir, device, plugins), echo=click.echo)
    click.echo(f"Wrote {out_dir / 'README.md'} and the pair folders under {out_dir}/")


def _sizes(spec) -> str:
    return "/".join("?" if s is None else str(s) for s in spec.split_sizes)


def _print_table(header, rows) -> None:
    widths = [max(len(str(x)) for x in col) for col in zip(header, *rows)]
    for line in (header, *rows):
        click.echo("  ".join(str(x).ljust(w) for x, w in zip(line, widths)).rstrip())


def main():
    cli(prog_name="bench")


if __name__ == "__main__":
    main()
