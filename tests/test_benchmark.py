from lgg_utils import benchmark, config


def test_pipeline_report_compares_each_stage_with_the_model(sample_slices):
    profile = config.get_profile("fast", env={"LGG_IMAGE_SIZE": "32"})
    report = benchmark.pipeline_report(sample_slices.iloc[:32], profile, steps=2)
    assert len(report) == 3 and (report.images_per_s > 0).all()
    assert report.times_model_rate.iloc[-1] == 1.0
