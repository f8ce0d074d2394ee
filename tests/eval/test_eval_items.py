"""What ``framescope eval`` takes from each benchmark: the release's file layout under the data
root, the samples (video path, prompt, options, ground truth) from small fixtures in the official
formats, clear errors for missing files, and the trace → prediction mapping."""

from __future__ import annotations

import math
from pathlib import Path

import pytest

from framescope.errors import MissingFileError
from framescope.eval import prompts
from framescope.eval import records as rec
from framescope.eval.benchmarks import get_benchmark
from framescope.eval.benchmarks.layout import trace_prediction
from framescope.eval.runner import load_items
from framescope.retrieval.loop import prompt_text
from framescope.types import Answer, Evidence, Prediction, Step, Trace, Window


def touch(path: Path) -> str:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(b"")
    return str(path)


def items_of(name: str, root: Path):
    return load_items(get_benchmark(name), root, None)[1]


def test_charades_sta(tmp_path) -> None:
    (tmp_path / "charades_sta_test.txt").write_text(
        "AO8RW 0.0 6.9##a person is putting a book on a shelf.\nY6R7T 2.1 8.0##person opens a door.\n"
    )
    video = touch(tmp_path / "Charades_v1_480" / "AO8RW.mp4")
    first, second = items_of("charades_sta", tmp_path)
    assert (first.id, first.sample.video, first.windows) == ("AO8RW#0", video, (Window(0.0, 6.9),))
    # DynFrame's released grounding prompt; Charades queries without their full stop
    assert first.sample.prompt == (
        "Give you a textual query: a person is putting a book on a shelf\n"
        "When does the described content occur in the video?\n"
        "Please return the timestamp in seconds."
    )
    assert second.sample.video == str(
        tmp_path / "Charades_v1_480" / "Y6R7T.mp4"
    )  # missing: recorded
    # the bare query for methods that write their own prompts (VideoMind), the prompt for the rest
    sample = first.sample
    assert sample.question == "a person is putting a book on a shelf." and sample.options == ()
    assert prompt_text(sample) == first.sample.prompt


def test_activitynet_keeps_the_v_prefix_and_finds_other_containers(tmp_path, dump) -> None:
    sentence = "A young woman is seen standing in a room and leads into her dancing."
    dump(
        tmp_path / "val_2.json",
        {
            "v_QOlSCBRmfWY": {
                "duration": 82.73,
                "timestamps": [[0.83, 19.86]],
                "sentences": [sentence],
            }
        },
    )
    video = touch(tmp_path / "videos" / "v_QOlSCBRmfWY.mkv")
    (item,) = items_of("activitynet", tmp_path)
    assert item.id == "v_QOlSCBRmfWY#0" and item.sample.video == video and item.duration == 82.73
    assert f"textual query: {sentence}\n" in item.sample.prompt  # as DynFrame's ActivityNet rows


def test_qvhighlights(tmp_path, jsonl) -> None:
    row = {
        "qid": 2579,
        "query": "A girl and her mother cooked while talking.",
        "duration": 150,
        "vid": "NUggAFmlD9E_360.0_510.0",
        "relevant_windows": [[86, 102]],
        "relevant_clip_ids": [43, 44],
        "saliency_scores": [[4, 3, 3], [2, 2, 2]],
    }
    jsonl(tmp_path / "highlight_val_release.jsonl", [row])
    (tmp_path / "videos").mkdir()
    (item,) = items_of("qvhighlights", tmp_path)
    assert item.sample.video == str(tmp_path / "videos" / "NUggAFmlD9E_360.0_510.0.mp4")
    assert item.sample.prompt == prompts.grounding(row["query"]) and item.windows == (
        Window(86, 102),
    )


def test_nextgqa_maps_video_ids_to_nextqa_paths(tmp_path, dump) -> None:
    (tmp_path / "test.csv").write_text(
        "video_id,frame_count,width,height,question,answer,qid,type,a0,a1,a2,a3,a4\n"
        "4882821564,1000,640,480,why did the boy clap,happy,6,CW,sad,happy,bored,cold,tired\n"
    )
    dump(
        tmp_path / "gsub_test.json",
        {"4882821564": {"duration": 34, "location": {"6": [[1.2, 5.8]], "9": [[2, 3]]}}},
    )
    dump(tmp_path / "map_vid_vidorID.json", {"4882821564": "1106/4882821564"})
    video = touch(tmp_path / "NExTVideo" / "1106" / "4882821564.mp4")
    (item,) = items_of("nextgqa", tmp_path)  # question 9 is not in the CSV: not run
    assert (item.id, item.sample.video, item.duration) == ("4882821564_6", video, 34.0)
    assert item.sample.prompt == prompts.grounded_qa("why did the boy clap")
    assert item.sample.prompt.endswith("\nwhy did the boy clap?")
    assert item.sample.options == ("sad", "happy", "bored", "cold", "tired")
    assert prompt_text(item.sample).endswith(
        "why did the boy clap?\nOptions:\n(A) sad\n(B) happy\n(C) bored\n(D) cold\n(E) tired"
    )
    assert item.windows == (Window(1.2, 5.8),)


def test_rextime_picks_the_video_folder_by_source(tmp_path, jsonl) -> None:
    base = {"duration": 150, "relevant_windows": [[1, 5]], "ans": "A"}
    rows = [
        {**base, "qid": "qvh_val1", "vid": "abc_60.0_210.0", "source": "qvhighlights_val"},
        {**base, "qid": "anet_val2", "vid": "v_xyz", "source": "anet_val"},
    ]
    for r in rows:
        r.update(question="What happens after he sits?", options=["a", "b", "c", "d"])
    jsonl(tmp_path / "rextime_val.jsonl", rows)
    touch(tmp_path / "videos" / "x")
    touch(tmp_path / "Anet_videos_15fps_short256" / "x")
    qvh, anet = items_of("rextime", tmp_path)
    assert qvh.sample.video == str(tmp_path / "videos" / "abc_60.0_210.0.mp4")
    assert anet.sample.video == str(tmp_path / "Anet_videos_15fps_short256" / "v_xyz.mp4")
    assert anet.sample.options == ("a", "b", "c", "d") and anet.windows == (Window(1, 5),)


def test_cgbench_and_its_interval_reader(tmp_path, dump) -> None:
    question = {
        "qid": 17,
        "video_uid": "b8dd",
        "question": "Which object appears first?",
        "choices": ["a cup", "a pen", "a car", "a dog"],
        "right_answer": "B",
        "clue_intervals": [[10, 20]],
        "duration": 200.0,
    }
    dump(tmp_path / "cgbench.json", [question])
    (tmp_path / "cg_videos_720p").mkdir()
    (item,) = items_of("cgbench", tmp_path)  # no clue clips: no clue run
    clip = touch(tmp_path / "cg_clue_videos" / "17.mp4")
    same, clue = items_of("cgbench", tmp_path)
    assert same == item and (clue.id, clue.sample.video) == ("17#clue", clip)
    assert clue.sample.prompt == prompts.multiple_choice("Which object appears first?")
    assert item.sample.video == str(tmp_path / "cg_videos_720p" / "b8dd.mp4")
    assert item.windows == (Window(10, 20),) and len(item.sample.options) == 4
    # CG-Bench's reader on the raw reply: a json result, in seconds (the reasoning's "3" is not
    # read: the json block comes first), instead of the windows the runtime read
    reply = '<think>about 3</think>```json {"result": [[21.5, 40]]}```'
    trace = Trace("17", "direct", item.sample.video, item.sample.prompt, response=reply)
    trace.answer = Answer("B", windows=(Window(1, 2),))
    pred = get_benchmark("cgbench").prediction(trace, item)
    assert pred.windows == [Window(21.5, 40.0)]


def test_videomme_strips_option_letters(tmp_path, dump) -> None:
    row = {
        "video_id": "001",
        "duration": "short",
        "domain": "Knowledge",
        "sub_category": "Humanity & History",
        "url": "https://www.youtube.com/watch?v=fFjv93ACGo8",
        "videoID": "fFjv93ACGo8",
        "question_id": "001-1",
        "task_type": "Counting Problem",
        "question": "How many people?",
        "options": ["A. Black.", "B. Gray.", "C. Green.", "D. Brown."],
        "answer": "C",
    }
    dump(tmp_path / "test.json", [row])
    video = touch(tmp_path / "data" / "fFjv93ACGo8.mp4")
    (item,) = items_of("videomme", tmp_path)
    assert item.sample.video == video and item.sample.options == (
        "Black.",
        "Gray.",
        "Green.",
        "Brown.",
    )
    assert item.sample.prompt == (
        "Select the best answer to the following multiple-choice question based on the video. "
        "Respond with only the letter of the correct option.\nHow many people?"
    )


def test_mlvu_videos_lie_in_their_task_folder(tmp_path, dump) -> None:
    mc = {
        "video": "movie101_66.mp4",
        "duration": 246,
        "question": "What color is the car?",
        "candidates": ["red", "blue", "green", "white"],
        "answer": "blue",
        "question_type": "plotQA",
    }
    dump(tmp_path / "json" / "1_plotQA.json", [mc])
    dump(tmp_path / "json" / "8_sub_scene.json", [{**mc, "question_type": "subPlot"}])
    touch(tmp_path / "video" / "1_plotQA" / "movie101_66.mp4")
    (item,) = items_of("mlvu", tmp_path)  # the generation task is not run
    assert item.id == "plotQA_0" and item.sample.video == str(
        tmp_path / "video/1_plotQA/movie101_66.mp4"
    )
    assert item.sample.options == ("red", "blue", "green", "white") and item.duration == 246


def test_lvbench_splits_the_options_off_the_question(tmp_path, jsonl) -> None:
    qa = {
        "uid": "0",
        "question": "What year appears in the opening caption?\n(A) 1636\n(B) 1366\n(C) 1363\n(D) 1633",
        "answer": "B",
        "question_type": ["key information retrieval"],
    }
    jsonl(tmp_path / "video_info.meta.jsonl", [{"key": "yBrd0L0tVXM", "qa": [qa]}])
    (tmp_path / "videos").mkdir()
    (item,) = items_of("lvbench", tmp_path)
    assert item.sample.video == str(tmp_path / "videos" / "yBrd0L0tVXM.mp4")
    assert item.sample.options == ("1636", "1366", "1363", "1633")
    assert item.sample.prompt.endswith("\nWhat year appears in the opening caption?")


def test_synth_items_carry_the_task_prefix(eval_world) -> None:
    items = items_of("synth", eval_world)
    tasks = [it.id.split("/")[0] for it in items]
    assert tasks == sorted(tasks, key=["charades_sta", "nextgqa", "videomme"].index)
    assert all(
        Path(it.sample.video).is_file() and it.sample.video.startswith(str(eval_world))
        for it in items
    )
    assert all(len(it.sample.options) == 5 for it in items if it.id.startswith("nextgqa/"))


@pytest.mark.parametrize(
    "name, files, expected",
    [
        ("nextgqa", {"test.csv": "video_id,question\n"}, "gsub_test.json"),
        ("mlvu", {}, "mlvu: "),
        ("cgbench", {}, "cgbench.json does not exist (expected cgbench.json)"),
        ("lvbench", {}, "video_info.meta.jsonl"),
        ("videomme", {"test.json": "[]"}, "no questions in the file"),
    ],
)
def test_missing_or_empty_files_say_what_is_expected_where(tmp_path, name, files, expected):
    for rel, text in files.items():
        (tmp_path / rel).write_text(text)
    with pytest.raises((MissingFileError, ValueError)) as err:
        items_of(name, tmp_path)
    assert expected in str(err.value) and (name == "videomme" or str(tmp_path) in str(err.value))


def trace(response: str, windows=(), evidence=(), error=None) -> Trace:
    t = Trace("s1", "dynframe", "v.mp4", "Q?", response=response, error=error)
    t.answer = Answer("B" if error is None else "", "B", tuple(windows))
    for w in evidence:
        ev = Evidence(w, (w.start, w.end), (28, 28), 2.0, 4)
        t.steps.append(Step("<span>…</span>", status="fetched", evidence=ev))
    return t


def test_trace_to_prediction() -> None:
    named = trace("<answer>B</answer>", windows=[Window(3, 7)], evidence=[Window(2, 9)])
    assert trace_prediction(named) == Prediction(
        "s1", [Window(3, 7)], answer="B", response="<answer>B</answer>"
    )
    fetched = trace("<answer>B</answer>", evidence=[Window(2, 9), Window(1, 3)])
    assert trace_prediction(fetched).windows == [Window(2, 9), Window(1, 3)]  # in fetch order
    failed = trace("", error="v.mp4: not a media container")
    assert trace_prediction(failed) == Prediction("s1", error="v.mp4: not a media container")


def test_records_keep_json_finite() -> None:
    pred = Prediction("s1", [Window(1, 2), Window(3, math.inf)], scores=[0.5, math.nan])
    record = rec.prediction_record(pred, trace("x"))
    assert record["windows"] == [[1.0, 2.0]] and "scores" not in record
    assert record["trace"]["failure"] is None and rec.dumps(record).endswith("}\n")


def test_qvhighlights_saliency_from_the_ranked_windows(tmp_path, jsonl) -> None:
    row = {"qid": 1, "query": "q", "duration": 9, "vid": "v", "relevant_windows": [[2, 4]]}
    jsonl(tmp_path / "highlight_val_release.jsonl", [row])
    (tmp_path / "videos").mkdir()
    (item,) = items_of("qvhighlights", tmp_path)
    t = trace("", windows=[Window(2.5, 4.0), Window(0.0, 3.0)])
    t.id = "1"
    pred = get_benchmark("qvhighlights").prediction(t, item)
    # int(9 / 2) = 4 clips of 2 s; unscored windows rank 2 (first) and 1: clip [2, 4) is
    # covered by both (best 2), [0, 2) by the second (1), the rest by none
    assert pred.saliency == [1.0, 2.0, 0.0, 0.0]


def test_videomme_with_subtitles(tmp_path, dump) -> None:
    from framescope.subtitles import frame_lines, parse_srt

    row = {
        "video_id": "001",
        "duration": "short",
        "domain": "Knowledge",
        "sub_category": "Humanity & History",
        "videoID": "abc",
        "question_id": "001-1",
        "task_type": "Counting Problem",
        "question": "How many people?",
        "options": ["A. 1", "B. 2", "C. 3", "D. 4"],
        "answer": "C",
    }
    dump(tmp_path / "test.json", [row, {**row, "videoID": "def", "question_id": "002-1"}])
    touch(tmp_path / "data" / "abc.mp4")
    with pytest.raises(MissingFileError, match="subtitle/"):
        items_of("videomme_subs", tmp_path)
    srt = tmp_path / "subtitle" / "abc.srt"
    srt.parent.mkdir()
    srt.write_text(
        "1\n00:00:01,000 --> 00:00:03,000\nhello\n\n2\n00:00:05,000 --> 00:00:06,000\nbye\n"
    )
    with_subs, without = items_of("videomme_subs", tmp_path)
    assert with_subs.sample.subtitles == str(srt) and without.sample.subtitles is None
    assert items_of("videomme", tmp_path)[0].sample.subtitles is None
    # the runtime shows the cues of the frames it sampled, under Video-MME's heading
    cues = parse_srt(srt.read_text()).cues
    assert frame_lines(cues, [0.0, 2.0, 2.5, 6.0]) == ["hello"]  # [5, 6) does not hold 6.0
    text = prompt_text(with_subs.sample, [2.0])
    assert text.startswith("This video's subtitles are listed below:\nhello\nSelect the best")
