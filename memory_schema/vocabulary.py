"""The headings and labels the memory documents use, in both preset languages.

Reading accepts every spelling listed; writing uses the first one of the layout's language.
"""

from typing import Literal

Language = Literal["zh", "en"]

# Working-memory sections, by role.
SECTIONS: dict[str, dict[Language, tuple[str, ...]]] = {
    "overview": {"zh": ("项目概况",), "en": ("Project overview", "Overview")},
    "goals": {"zh": ("学习目标",), "en": ("Goals", "Learning goals")},
    "progress": {"zh": ("当前进度状态",), "en": ("Current progress", "Progress")},
    "progress_summary": {"zh": ("总体进度",), "en": ("Overall progress",)},
    "completed_work": {"zh": ("已完成的重要工作",), "en": ("Completed work",)},
    "takeaways": {"zh": ("关键技术收获",), "en": ("Key takeaways",)},
    "method": {"zh": ("工作方法论",), "en": ("Method", "Working method")},
    "discussion_index": {"zh": ("深度讨论目录说明",), "en": ("Discussions", "Discussion index")},
    "insights": {"zh": ("重要技术洞察记录",), "en": ("Key insights", "Insights")},
    "habits": {"zh": ("工作习惯和偏好",), "en": ("Habits and preferences",)},
    "tools": {"zh": ("技术栈和工具",), "en": ("Tools",)},
    "constraints": {"zh": ("注意事项和限制",), "en": ("Constraints",)},
    "next_steps": {"zh": ("下一步计划",), "en": ("Next steps",)},
}

FIELDS: dict[str, dict[Language, tuple[str, ...]]] = {
    "lectures_done": {"zh": ("已完成讲座",), "en": ("Lectures done",)},
    "phase": {"zh": ("当前阶段",), "en": ("Current phase",)},
    "week": {"zh": ("学习周次",), "en": ("Week",)},
    "updated": {"zh": ("最后更新",), "en": ("Last updated",)},
    "updated_by": {"zh": ("更新人",), "en": ("Updated by",)},
    "version": {"zh": ("版本",), "en": ("Version",)},
    "existing_documents": {"zh": ("现有文档",), "en": ("Existing documents",)},
}

# The five parts every discussion record has, in order.
DISCUSSION_PARTS: dict[str, dict[Language, tuple[str, ...]]] = {
    "question": {"zh": ("原始问题",), "en": ("Question", "Original question")},
    "thinking": {"zh": ("思维过程",), "en": ("Thinking", "Thinking process")},
    "details": {"zh": ("技术细节",), "en": ("Details", "Technical details")},
    "methodology": {"zh": ("方法论提炼",), "en": ("Methodology",)},
    "practice": {"zh": ("实践指导",), "en": ("Practice", "Practical guidance")},
}

# Progress table columns and lecture states.
COLUMNS: dict[str, tuple[str, ...]] = {
    "lecture": ("讲座", "Lecture"),
    "topic": ("主题", "Topic"),
    "phase": ("阶段", "Phase"),
    "status": ("状态", "Status"),
    "done_on": ("完成日期", "Done on"),
}
STATUS_WORDS: dict[str, dict[Language, str]] = {
    "done": {"zh": "✅ 已完成", "en": "✅ done"},
    "in_progress": {"zh": "🔄 进行中", "en": "🔄 in progress"},
    "not_started": {"zh": "⬜ 未开始", "en": "⬜ not started"},
}
STATUS_MARKERS: dict[str, tuple[str, ...]] = {
    "done": ("✅", "已完成", "完成", "done", "[x]"),
    "in_progress": ("🔄", "进行中", "in progress", "doing", "⏳"),
    "not_done": ("⬜", "未完成", "待完成", "未开始", "not done", "undone", "not started"),
}

OTHER: dict[str, dict[Language, str]] = {
    "round": {"zh": "第{n}轮讨论 ({date})", "en": "Round {n} ({date})"},
    "uncategorized": {"zh": "待分类", "en": "Uncategorized"},
    "in_progress_suffix": {"zh": "进行中", "en": "in progress"},
    "short_term": {"zh": "短期目标（本周）", "en": "This week"},
}


def names(table: dict[str, dict[Language, tuple[str, ...]]], role: str) -> tuple[str, ...]:
    """Every accepted spelling of `role`, both languages."""
    return table[role]["zh"] + table[role]["en"]


def preferred(table: dict[str, dict[Language, tuple[str, ...]]], role: str, language: Language) -> str:
    return table[role][language][0]
