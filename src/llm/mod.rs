//! The model endpoint: any OpenAI-compatible chat-completions API, through async-openai. It sends
//! what it is given and reports the tokens used; budgets, prices and spend rows are the scoring
//! layer's (one metered path there).
//!
//! async-openai retries 429 (honouring Retry-After), 5xx and refused connections itself; this
//! client adds a timeout per request and retries what is left (timeouts, unreadable answers)
//! with backoff, and tells apart failures that make further calls pointless (a rejected key,
//! an exhausted quota).

use std::time::Duration;

use async_openai::config::OpenAIConfig;
use async_openai::error::OpenAIError;
use async_openai::types::chat::{
    ChatCompletionRequestSystemMessage, ChatCompletionRequestUserMessage,
    CreateChatCompletionRequestArgs,
};
use secrecy::{ExposeSecret, SecretString};

use crate::config::LlmConfig;
use crate::domain::problem::{Kind, Problem};

pub mod embed;
pub mod local;

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Usage {
    pub prompt_tokens: u64,
    pub cached_tokens: u64,
    pub completion_tokens: u64,
}

#[derive(Debug)]
pub struct Completion {
    pub text: String,
    pub usage: Option<Usage>,
}

/// Why a model call gave no answer. When [`Problem::stops_scoring`], no further call can succeed
/// this run (rejected key, exhausted quota, unknown model); otherwise only this call failed.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct LlmError(pub Problem);

impl LlmError {
    pub(crate) fn new(kind: Kind, detail: impl Into<String>) -> LlmError {
        LlmError(Problem::new(kind, detail))
    }
}

pub struct LlmClient {
    client: async_openai::Client<OpenAIConfig>,
    model: String,
    base_url: String,
    max_attempts: u32,
    retry_base: Duration,
    max_completion_tokens: Option<u32>,
}

impl LlmClient {
    pub fn new(config: &LlmConfig, api_key: &SecretString) -> anyhow::Result<LlmClient> {
        let http = reqwest::Client::builder()
            .timeout(Duration::from_secs(config.timeout_secs))
            .user_agent(concat!("paperboy/", env!("CARGO_PKG_VERSION")))
            .build()?;
        let openai_config = OpenAIConfig::new()
            .with_api_base(config.base_url.trim_end_matches('/'))
            .with_api_key(api_key.expose_secret());
        Ok(LlmClient {
            client: async_openai::Client::with_config(openai_config).with_http_client(http),
            model: config.model.clone(),
            base_url: config.base_url.clone(),
            max_attempts: config.max_attempts.max(1),
            retry_base: Duration::from_millis(config.retry_base_ms),
            max_completion_tokens: config.max_completion_tokens,
        })
    }

    pub fn model(&self) -> &str {
        &self.model
    }

    pub fn max_completion_tokens(&self) -> Option<u32> {
        self.max_completion_tokens
    }

    pub fn base_url(&self) -> &str {
        &self.base_url
    }

    /// A minimal request (a few tokens) to check the endpoint, key and model.
    pub async fn ping(&self) -> Result<Completion, LlmError> {
        let request = CreateChatCompletionRequestArgs::default()
            .model(&self.model)
            .messages(vec![ChatCompletionRequestUserMessage::from(
                "Reply with the word OK.",
            )
            .into()])
            .max_completion_tokens(16u32)
            .build()
            .map_err(|e| {
                LlmError::new(Kind::ModelFailed, format!("cannot build the request: {e}"))
            })?;
        match self.client.chat().create(request).await {
            Ok(response) => Ok(Completion {
                usage: usage_of(&response),
                text: String::new(),
            }),
            Err(e) => Err(self.classify(e)),
        }
    }

    /// Reads a free-text reply as commands: structured output `{"commands": ["...", ...]}`.
    pub async fn commands(
        &self,
        system: &str,
        user: &str,
    ) -> Result<(Vec<String>, Option<Usage>), LlmError> {
        use async_openai::types::chat::{ResponseFormat, ResponseFormatJsonSchema};
        let schema = serde_json::json!({
            "type": "object",
            "properties": {"commands": {"type": "array", "items": {"type": "string"}}},
            "required": ["commands"],
            "additionalProperties": false
        });
        let request = CreateChatCompletionRequestArgs::default()
            .model(&self.model)
            .messages(vec![
                ChatCompletionRequestSystemMessage::from(system).into(),
                ChatCompletionRequestUserMessage::from(user).into(),
            ])
            .response_format(ResponseFormat::JsonSchema {
                json_schema: ResponseFormatJsonSchema {
                    description: Some("paperboy reply commands".into()),
                    name: "commands".into(),
                    schema,
                    strict: Some(true),
                },
            })
            .build()
            .map_err(|e| {
                LlmError::new(Kind::ModelFailed, format!("cannot build the request: {e}"))
            })?;
        let response = self
            .client
            .chat()
            .create(request)
            .await
            .map_err(|e| self.classify(e))?;
        let Completion { text, usage } = completion_of(response);
        let parsed: serde_json::Value = serde_json::from_str(text.trim()).map_err(|e| {
            LlmError::new(
                Kind::ModelNoAnswer,
                format!("the model's commands are not JSON ({e})"),
            )
        })?;
        let commands = parsed["commands"]
            .as_array()
            .ok_or_else(|| {
                LlmError::new(
                    Kind::ModelNoAnswer,
                    "the model's answer has no commands list",
                )
            })?
            .iter()
            .filter_map(|c| c.as_str().map(str::to_string))
            .collect();
        Ok((commands, usage))
    }

    #[tracing::instrument(skip_all, fields(model = %self.model))]
    pub async fn complete(&self, system: &str, user: &str) -> Result<Completion, LlmError> {
        let mut builder = CreateChatCompletionRequestArgs::default();
        builder.model(&self.model).messages(vec![
            ChatCompletionRequestSystemMessage::from(system).into(),
            ChatCompletionRequestUserMessage::from(user).into(),
        ]);
        if let Some(max) = self.max_completion_tokens {
            builder.max_completion_tokens(max);
        }
        let request = builder.build().map_err(|e| {
            LlmError::new(Kind::ModelFailed, format!("cannot build the request: {e}"))
        })?;

        let endpoint = Endpoint {
            base_url: &self.base_url,
            model: &self.model,
            section: "[llm]",
            max_attempts: self.max_attempts,
            retry_base: self.retry_base,
        };
        let response = endpoint
            .with_retries(|| {
                let request = request.clone();
                async move { self.client.chat().create(request).await }
            })
            .await?;
        Ok(completion_of(response))
    }

    fn classify(&self, error: OpenAIError) -> LlmError {
        classify(error, &self.base_url, &self.model, "[llm]").0
    }
}

/// An endpoint as its retries see it: where it is (for messages), and how often and how soon to
/// ask again.
pub(crate) struct Endpoint<'a> {
    pub base_url: &'a str,
    pub model: &'a str,
    /// The config section that names it, for advice in messages (`[llm]`, `[embeddings]`).
    pub section: &'a str,
    pub max_attempts: u32,
    pub retry_base: Duration,
}

impl Endpoint<'_> {
    /// `call`'s answer, asked again with backoff where asking again may help; a failure that
    /// stops scoring, or a refused request, comes back at once.
    pub(crate) async fn with_retries<T, F, Fut>(&self, mut call: F) -> Result<T, LlmError>
    where
        F: FnMut() -> Fut,
        Fut: std::future::Future<Output = Result<T, OpenAIError>>,
    {
        let mut attempt = 0;
        loop {
            attempt += 1;
            let error = match call().await {
                Ok(answer) => return Ok(answer),
                Err(e) => e,
            };
            let (LlmError(why), again) = classify(error, self.base_url, self.model, self.section);
            if why.stops_scoring() || !again {
                return Err(LlmError(why));
            }
            if attempt >= self.max_attempts {
                return Err(LlmError::new(
                    why.kind,
                    format!("{why} (after {attempt} attempts)"),
                ));
            }
            let wait = crate::support::clock::backoff(self.retry_base, attempt);
            tracing::warn!(error = %why, endpoint = self.section, attempt, wait_ms = wait.as_millis() as u64, "model call failed; retrying");
            tokio::time::sleep(wait).await;
        }
    }
}

/// What an error from the endpoint means, and whether asking again the same way may help (a
/// refused request — a prompt over the window, a malformed request — is refused again).
pub(crate) fn classify(
    error: OpenAIError,
    base_url: &str,
    model: &str,
    section: &str,
) -> (LlmError, bool) {
    match error {
        OpenAIError::ApiError(e) => {
            let status = e.status_code.as_u16();
            let message = e.api_error.message.clone();
            let code = e.api_error.code.as_deref();
            let quota = e.api_error.r#type.as_deref() == Some("insufficient_quota")
                || code == Some("insufficient_quota");
            let too_long = code == Some("context_length_exceeded")
                || message.contains("maximum context length");
            let error = match status {
                401 | 403 => LlmError::new(Kind::ModelRejectedKey, format!(
                    "the model endpoint {base_url} rejected the API key (HTTP {status}: {message}); \
                     check the key in the environment variable named by {section} api_key_env"
                )),
                429 if quota => LlmError::new(Kind::ModelQuota, format!(
                    "the model provider reports the quota is used up (HTTP 429: {message}); add credit or raise the limit"
                )),
                404 => LlmError::new(Kind::ModelUnknown, format!(
                    "the model endpoint does not know model `{model}` (HTTP 404: {message}); check {section} model and base_url"
                )),
                400 | 413 if too_long => LlmError::new(Kind::ModelContextTooLong, format!(
                    "the model endpoint refused the prompt as longer than its context window (HTTP {status}: {message})"
                )),
                400 | 413 | 422 => LlmError::new(Kind::ModelFailed, format!("the model endpoint refused the request (HTTP {status}: {message})")),
                _ => LlmError::new(Kind::ModelFailed, format!("the model endpoint answered HTTP {status}: {message}")),
            };
            (error, !matches!(status, 400 | 413 | 422))
        }
        OpenAIError::Reqwest(e) if e.is_timeout() => (
            LlmError::new(
                Kind::ModelUnreachable,
                format!("the model endpoint timed out: {e}"),
            ),
            true,
        ),
        OpenAIError::Reqwest(e) => (
            LlmError::new(
                Kind::ModelUnreachable,
                format!("cannot reach the model endpoint {base_url}: {e}"),
            ),
            true,
        ),
        OpenAIError::JSONDeserialize(e, body) => (
            LlmError::new(
                Kind::ModelFailed,
                format!(
                    "the model endpoint sent an unreadable answer ({e}): {}",
                    body.chars().take(200).collect::<String>()
                ),
            ),
            true,
        ),
        other => (LlmError::new(Kind::ModelFailed, other.to_string()), true),
    }
}

/// The first choice's text and the token usage of a response.
fn completion_of(response: async_openai::types::chat::CreateChatCompletionResponse) -> Completion {
    let usage = usage_of(&response);
    let text = response
        .choices
        .into_iter()
        .next()
        .and_then(|c| c.message.content)
        .unwrap_or_default();
    Completion { text, usage }
}

fn usage_of(response: &async_openai::types::chat::CreateChatCompletionResponse) -> Option<Usage> {
    response.usage.as_ref().map(|u| Usage {
        prompt_tokens: u.prompt_tokens as u64,
        cached_tokens: u
            .prompt_tokens_details
            .as_ref()
            .and_then(|d| d.cached_tokens)
            .unwrap_or(0) as u64,
        completion_tokens: u.completion_tokens as u64,
    })
}
