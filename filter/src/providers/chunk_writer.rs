//! OpenAI stream chunks written from a content-block stream: the part Anthropic's
//! Messages stream and Bedrock's `ConverseStream` (modelled on it) have in common.
//!
//! Both streams open numbered content blocks (text, reasoning, a tool call), send
//! deltas into them and close them; both end with a stop reason and a usage count.
//! The translators decode their own events and call [`ChunkWriter`] for what OpenAI
//! clients see: the `role` chunk, `delta.content` / `delta.reasoning_content` /
//! `thinking_blocks` chunks, tool calls numbered by ordinal (not by the provider's
//! block index) with `arguments: "{}"` for a call that closed with no argument text,
//! the `finish_reason` chunk and the `choices: []` usage chunk. A `/completions`
//! stream gets `text_completion` chunks and no role, reasoning or tool chunks.

use serde::Serialize;

use crate::endpoint::Endpoint;
use crate::wire::openai::{
    write_data, ChatChoice, ChatDelta, Chunk, FunctionDelta, TextChoice, ThinkingDelta,
    ToolCallDelta, CHAT_COMPLETION_CHUNK, TEXT_COMPLETION,
};

/// Writes one answer's OpenAI chunks, numbering its tool calls.
#[derive(Debug)]
pub(crate) struct ChunkWriter {
    text_completion: bool,
    created: u64,
    /// The `id` every chunk carries.
    pub(crate) id: String,
    /// The `model` every chunk carries.
    pub(crate) model: String,
    role_sent: bool,
    tool_calls: usize,
    /// Open tool-call blocks: (provider block index, tool-call ordinal, had argument text).
    tools: Vec<(u64, usize, bool)>,
}

impl ChunkWriter {
    /// A writer for one answer to `endpoint`.
    pub(crate) fn new(endpoint: Endpoint, created: u64, id: String, model: String) -> Self {
        ChunkWriter {
            text_completion: endpoint == Endpoint::Completions,
            created,
            id,
            model,
            role_sent: false,
            tool_calls: 0,
            tools: Vec::new(),
        }
    }

    /// How many tool calls have started.
    pub(crate) fn tool_calls(&self) -> usize {
        self.tool_calls
    }

    /// The message started: the `role` chunk (with empty content), once, for chat.
    pub(crate) fn start(&mut self, out: &mut Vec<u8>) {
        if !self.text_completion && !self.role_sent {
            self.chat(
                ChatDelta {
                    content: Some(""),
                    ..ChatDelta::default()
                },
                None,
                out,
            );
        }
    }

    /// Answer text.
    pub(crate) fn content(&mut self, text: &str, out: &mut Vec<u8>) {
        if self.text_completion {
            self.text(text, None, out);
        } else {
            self.chat(
                ChatDelta {
                    content: Some(text),
                    ..ChatDelta::default()
                },
                None,
                out,
            );
        }
    }

    /// Reasoning text (`delta.reasoning_content`; nothing for `/completions`).
    pub(crate) fn reasoning(&mut self, text: &str, out: &mut Vec<u8>) {
        if !self.text_completion {
            self.chat(
                ChatDelta {
                    reasoning_content: Some(text),
                    ..ChatDelta::default()
                },
                None,
                out,
            );
        }
    }

    /// A `thinking_blocks` entry (a signature or redacted thinking; nothing for
    /// `/completions`).
    pub(crate) fn thinking_block(&mut self, block: ThinkingDelta<'_>, out: &mut Vec<u8>) {
        if !self.text_completion {
            self.chat(
                ChatDelta {
                    thinking_blocks: Some([block]),
                    ..ChatDelta::default()
                },
                None,
                out,
            );
        }
    }

    /// A block that is not a tool call opened at `index`: a tool block left open
    /// there is forgotten.
    pub(crate) fn block_start(&mut self, index: u64) {
        self.tools.retain(|(i, _, _)| *i != index);
    }

    /// A tool-call block opened at `index`: the chunk naming the call (`id`, `name`,
    /// `arguments: ""`) under the next ordinal.
    pub(crate) fn tool_start(&mut self, index: u64, id: &str, name: &str, out: &mut Vec<u8>) {
        let ordinal = self.tool_calls;
        self.tool_calls += 1;
        self.block_start(index);
        self.tools.push((index, ordinal, false));
        if !self.text_completion {
            let call = ToolCallDelta {
                index: ordinal,
                id: Some(id),
                kind: Some("function"),
                function: FunctionDelta {
                    name: Some(name),
                    arguments: "",
                },
            };
            self.chat(
                ChatDelta {
                    tool_calls: Some([call]),
                    ..ChatDelta::default()
                },
                None,
                out,
            );
        }
    }

    /// Argument text for the tool block open at `index` (nothing if none is).
    pub(crate) fn tool_arguments(&mut self, index: u64, arguments: &str, out: &mut Vec<u8>) {
        let ordinal = self.tools.iter_mut().find_map(|(i, ordinal, had)| {
            (*i == index).then(|| {
                *had = true;
                *ordinal
            })
        });
        if let Some(ordinal) = ordinal {
            self.arguments_chunk(ordinal, arguments, out);
        }
    }

    /// The block at `index` closed; a tool call that had no argument text gets
    /// `arguments: "{}"`, so the joined arguments always parse.
    pub(crate) fn block_stop(&mut self, index: u64, out: &mut Vec<u8>) {
        if let Some(pos) = self.tools.iter().position(|(i, _, _)| *i == index) {
            let (_, ordinal, had_arguments) = self.tools.swap_remove(pos);
            if !had_arguments {
                self.arguments_chunk(ordinal, "{}", out);
            }
        }
    }

    /// The chunk with `finish_reason`.
    pub(crate) fn finish(&mut self, reason: &str, out: &mut Vec<u8>) {
        if self.text_completion {
            self.text("", Some(reason), out);
        } else {
            self.chat(ChatDelta::default(), Some(reason), out);
        }
    }

    /// The `choices: []` chunk carrying the answer's usage.
    pub(crate) fn usage<U: Serialize>(&self, usage: U, out: &mut Vec<u8>) {
        if self.text_completion {
            self.write(&[] as &[TextChoice<'_>], Some(usage), out);
        } else {
            self.write(&[] as &[ChatChoice<'_>], Some(usage), out);
        }
    }

    fn arguments_chunk(&mut self, ordinal: usize, arguments: &str, out: &mut Vec<u8>) {
        if self.text_completion {
            return;
        }
        let call = ToolCallDelta {
            index: ordinal,
            id: None,
            kind: None,
            function: FunctionDelta {
                name: None,
                arguments,
            },
        };
        self.chat(
            ChatDelta {
                tool_calls: Some([call]),
                ..ChatDelta::default()
            },
            None,
            out,
        );
    }

    fn write<C: Serialize, U: Serialize>(
        &self,
        choices: &[C],
        usage: Option<U>,
        out: &mut Vec<u8>,
    ) {
        let chunk = Chunk {
            id: &self.id,
            object: if self.text_completion {
                TEXT_COMPLETION
            } else {
                CHAT_COMPLETION_CHUNK
            },
            created: self.created,
            model: &self.model,
            choices,
            usage,
        };
        write_data(out, &chunk);
    }

    fn chat(&mut self, mut delta: ChatDelta<'_>, finish: Option<&str>, out: &mut Vec<u8>) {
        if !self.role_sent {
            self.role_sent = true;
            delta.role = Some("assistant");
        }
        let choice = ChatChoice {
            index: 0,
            delta,
            finish_reason: finish,
        };
        self.write(std::slice::from_ref(&choice), None::<()>, out);
    }

    fn text(&self, text: &str, finish: Option<&str>, out: &mut Vec<u8>) {
        let choice = TextChoice {
            text,
            index: 0,
            logprobs: None,
            finish_reason: finish,
        };
        self.write(std::slice::from_ref(&choice), None::<()>, out);
    }
}
