//! The model router: `"provider/model"` plus options → a `Model`.

use std::sync::Arc;
use std::time::Duration;

use lumos_core::embed::Embedder;
use lumos_core::model::{Model, ModelError};

use crate::http::{DEFAULT_CONNECT_TIMEOUT, DEFAULT_READ_TIMEOUT};
use crate::{
  AnthropicModel, EmbeddingOptions, OpenAiCompatibleModel, OpenAiEmbeddingModel, ProviderConfig,
};

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ProviderKind {
  /// OpenAI Chat Completions wire format.
  OpenAiCompatible,
  /// Anthropic Messages wire format.
  Anthropic,
}

/// A provider the router knows by name.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ProviderInfo {
  pub name: &'static str,
  pub kind: ProviderKind,
  pub default_base_url: &'static str,
  /// The environment variable holding the API key; `None` for local servers that need none.
  pub api_key_env: Option<&'static str>,
  /// The environment variable that overrides `default_base_url`.
  pub base_url_env: &'static str,
}

const fn openai_like(
  name: &'static str,
  default_base_url: &'static str,
  api_key_env: Option<&'static str>,
  base_url_env: &'static str,
) -> ProviderInfo {
  ProviderInfo {
    name,
    kind: ProviderKind::OpenAiCompatible,
    default_base_url,
    api_key_env,
    base_url_env,
  }
}

static PROVIDERS: [ProviderInfo; 13] = [
  openai_like(
    "openai",
    "https://api.openai.com/v1",
    Some("OPENAI_API_KEY"),
    "OPENAI_BASE_URL",
  ),
  ProviderInfo {
    name: "anthropic",
    kind: ProviderKind::Anthropic,
    default_base_url: "https://api.anthropic.com/v1",
    api_key_env: Some("ANTHROPIC_API_KEY"),
    base_url_env: "ANTHROPIC_BASE_URL",
  },
  openai_like(
    "deepseek",
    "https://api.deepseek.com/v1",
    Some("DEEPSEEK_API_KEY"),
    "DEEPSEEK_BASE_URL",
  ),
  openai_like(
    "groq",
    "https://api.groq.com/openai/v1",
    Some("GROQ_API_KEY"),
    "GROQ_BASE_URL",
  ),
  openai_like(
    "openrouter",
    "https://openrouter.ai/api/v1",
    Some("OPENROUTER_API_KEY"),
    "OPENROUTER_BASE_URL",
  ),
  openai_like(
    "ollama",
    "http://localhost:11434/v1",
    None,
    "OLLAMA_BASE_URL",
  ),
  openai_like(
    "lmstudio",
    "http://localhost:1234/v1",
    None,
    "LMSTUDIO_BASE_URL",
  ),
  openai_like(
    "mistral",
    "https://api.mistral.ai/v1",
    Some("MISTRAL_API_KEY"),
    "MISTRAL_BASE_URL",
  ),
  openai_like(
    "xai",
    "https://api.x.ai/v1",
    Some("XAI_API_KEY"),
    "XAI_BASE_URL",
  ),
  openai_like(
    "togetherai",
    "https://api.together.xyz/v1",
    Some("TOGETHER_API_KEY"),
    "TOGETHERAI_BASE_URL",
  ),
  openai_like(
    "fireworks",
    "https://api.fireworks.ai/inference/v1",
    Some("FIREWORKS_API_KEY"),
    "FIREWORKS_BASE_URL",
  ),
  openai_like(
    "cerebras",
    "https://api.cerebras.ai/v1",
    Some("CEREBRAS_API_KEY"),
    "CEREBRAS_BASE_URL",
  ),
  openai_like(
    "perplexity",
    "https://api.perplexity.ai",
    Some("PERPLEXITY_API_KEY"),
    "PERPLEXITY_BASE_URL",
  ),
];

/// Every provider the router knows, in a stable order.
pub fn provider_table() -> &'static [ProviderInfo] {
  &PROVIDERS
}

/// The provider with this name (case-insensitive).
pub fn find_provider(name: &str) -> Option<&'static ProviderInfo> {
  PROVIDERS.iter().find(|p| p.name.eq_ignore_ascii_case(name))
}

/// What the JS side passes for a model: a router id and optional overrides. `Debug` leaves the
/// API key and header values out.
#[derive(Clone, Default, PartialEq, Eq)]
pub struct ModelConfig {
  /// `"provider/model"`; the model part may contain further slashes.
  pub id: String,
  /// API base URL. With it any provider name works (as OpenAI-compatible; `anthropic` stays
  /// Anthropic) and the API key becomes optional.
  pub url: Option<String>,
  pub api_key: Option<String>,
  pub headers: Vec<(String, String)>,
  pub connect_timeout_ms: Option<u64>,
  pub read_timeout_ms: Option<u64>,
}

impl std::fmt::Debug for ModelConfig {
  fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
    f.debug_struct("ModelConfig")
      .field("id", &self.id)
      .field("url", &self.url)
      .field("api_key", &self.api_key.as_ref().map(|_| "<redacted>"))
      .field("headers", &crate::header_names(&self.headers))
      .field("connect_timeout_ms", &self.connect_timeout_ms)
      .field("read_timeout_ms", &self.read_timeout_ms)
      .finish()
  }
}

/// Builds the model for `cfg`. `env` reads environment variables (injected for testability).
pub fn resolve_model(
  cfg: &ModelConfig,
  env: &dyn Fn(&str) -> Option<String>,
) -> Result<Arc<dyn Model>, ModelError> {
  let (config, kind) = resolve_config(cfg, env)?;
  match kind {
    ProviderKind::Anthropic => Ok(Arc::new(AnthropicModel::new(config)?)),
    ProviderKind::OpenAiCompatible => Ok(Arc::new(OpenAiCompatibleModel::new(config)?)),
  }
}

/// Builds the embedding model for `cfg` (e.g. `openai/text-embedding-3-small`), with default
/// options. Every OpenAI-compatible provider works (the server decides whether it has the model);
/// Anthropic has no embeddings endpoint.
pub fn resolve_embedder(
  cfg: &ModelConfig,
  env: &dyn Fn(&str) -> Option<String>,
) -> Result<Arc<dyn Embedder>, ModelError> {
  resolve_embedder_with(cfg, env, &EmbeddingOptions::default())
}

/// [`resolve_embedder`] with `dimensions`, batch size, parallelism and retries set.
pub fn resolve_embedder_with(
  cfg: &ModelConfig,
  env: &dyn Fn(&str) -> Option<String>,
  options: &EmbeddingOptions,
) -> Result<Arc<dyn Embedder>, ModelError> {
  // Said before any missing-key error: no key would make Anthropic embeddings work.
  let named = cfg
    .id
    .trim()
    .split_once('/')
    .and_then(|(p, _)| find_provider(p.trim()));
  if let Some(info) = named.filter(|i| i.kind == ProviderKind::Anthropic) {
    return Err(no_embeddings(info.name, cfg.id.trim()));
  }
  let (config, kind) = resolve_config(cfg, env)?;
  match kind {
    ProviderKind::Anthropic => Err(no_embeddings(&config.provider, cfg.id.trim())),
    ProviderKind::OpenAiCompatible => Ok(Arc::new(OpenAiEmbeddingModel::with_options(
      config, options,
    )?)),
  }
}

fn no_embeddings(provider: &str, id: &str) -> ModelError {
  ModelError::Config(format!(
    "{provider} has no embeddings API, so '{id}' cannot embed text. Use an embedding model of \
     another provider, e.g. 'openai/text-embedding-3-small', or any OpenAI-compatible server \
     with an /embeddings endpoint (a provider name other than 'anthropic' plus `url`)."
  ))
}

/// The connection settings and wire format `resolve_model` would use, without building a model.
pub fn resolve_config(
  cfg: &ModelConfig,
  env: &dyn Fn(&str) -> Option<String>,
) -> Result<(ProviderConfig, ProviderKind), ModelError> {
  let id = cfg.id.trim();
  let (provider, model_id) = match id.split_once('/') {
    Some((p, m)) if !p.trim().is_empty() && !m.trim().is_empty() => (p.trim(), m.trim()),
    _ => {
      return Err(ModelError::Config(format!(
        "model id '{id}' must have the form 'provider/model', e.g. 'openai/gpt-4o-mini' or \
         'anthropic/claude-sonnet-4-5' (known providers: {})",
        known_names()
      )));
    }
  };
  let non_empty = |v: Option<String>| v.map(|s| s.trim().to_string()).filter(|s| !s.is_empty());
  let info = find_provider(provider);
  let explicit_url = non_empty(cfg.url.clone());
  let provider_name = info.map_or_else(|| provider.to_string(), |i| i.name.to_string());

  let base_url = match (&explicit_url, info) {
    (Some(url), _) => url.clone(),
    (None, Some(info)) => {
      non_empty(env(info.base_url_env)).unwrap_or_else(|| info.default_base_url.to_string())
    }
    (None, None) => {
      return Err(ModelError::Config(format!(
        "unknown provider '{provider}' in model id '{id}'. Known providers: {}. For any other \
         OpenAI-compatible server, pass `url` (and `apiKey` if it needs one).",
        known_names()
      )));
    }
  };

  let key_env = info.and_then(|i| i.api_key_env);
  let api_key = non_empty(cfg.api_key.clone()).or_else(|| key_env.and_then(|k| non_empty(env(k))));
  if let (None, None, Some(var)) = (&api_key, &explicit_url, key_env) {
    return Err(ModelError::Config(format!(
      "no API key for {provider_name} (model '{id}'): set the {var} environment variable or pass `apiKey` \
       in the model config"
    )));
  }

  let ms = |v: Option<u64>, default: Duration| {
    v.filter(|&ms| ms > 0)
      .map_or(default, Duration::from_millis)
  };
  let config = ProviderConfig {
    provider: provider_name,
    model_id: model_id.to_string(),
    base_url,
    api_key,
    headers: cfg.headers.clone(),
    connect_timeout: ms(cfg.connect_timeout_ms, DEFAULT_CONNECT_TIMEOUT),
    read_timeout: ms(cfg.read_timeout_ms, DEFAULT_READ_TIMEOUT),
  };
  Ok((
    config,
    info.map_or(ProviderKind::OpenAiCompatible, |i| i.kind),
  ))
}

fn known_names() -> String {
  PROVIDERS
    .iter()
    .map(|p| p.name)
    .collect::<Vec<_>>()
    .join(", ")
}

#[cfg(test)]
mod tests {
  #![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
  use super::*;
  use std::collections::HashMap;

  fn env_of(pairs: &[(&str, &str)]) -> impl Fn(&str) -> Option<String> {
    let map: HashMap<String, String> = pairs
      .iter()
      .map(|(k, v)| (k.to_string(), v.to_string()))
      .collect();
    move |k| map.get(k).cloned()
  }

  fn cfg(id: &str) -> ModelConfig {
    ModelConfig {
      id: id.into(),
      ..Default::default()
    }
  }

  fn config_error(r: Result<Arc<dyn Model>, ModelError>) -> String {
    match r {
      Err(ModelError::Config(m)) => m,
      Err(other) => panic!("expected a config error, got {other:?}"),
      Ok(m) => panic!("expected a config error, got a model for {}", m.provider()),
    }
  }

  #[test]
  fn resolves_known_providers_with_env_keys() {
    let env = env_of(&[
      ("OPENAI_API_KEY", "sk-1"),
      ("ANTHROPIC_API_KEY", "ak"),
      ("OPENROUTER_API_KEY", "or"),
    ]);
    let m = resolve_model(&cfg("openai/gpt-4o-mini"), &env).unwrap();
    assert_eq!((m.provider(), m.model_id()), ("openai", "gpt-4o-mini"));
    let m = resolve_model(&cfg("anthropic/claude-sonnet-4-5"), &env).unwrap();
    assert_eq!(
      (m.provider(), m.model_id()),
      ("anthropic", "claude-sonnet-4-5")
    );
    let m = resolve_model(&cfg("openrouter/anthropic/claude-3.5"), &env).unwrap();
    assert_eq!(
      (m.provider(), m.model_id()),
      ("openrouter", "anthropic/claude-3.5")
    );
    let m = resolve_model(&cfg("ollama/llama3.2"), &env).unwrap();
    assert_eq!((m.provider(), m.model_id()), ("ollama", "llama3.2"));
    let m = resolve_model(&cfg("lmstudio/qwen"), &env).unwrap();
    assert_eq!(m.provider(), "lmstudio");
  }

  #[test]
  fn missing_key_names_the_variable() {
    let msg = config_error(resolve_model(&cfg("openai/gpt-4o"), &env_of(&[])));
    assert!(
      msg.contains("OPENAI_API_KEY") && msg.contains("apiKey"),
      "{msg}"
    );
    let msg = config_error(resolve_model(
      &cfg("togetherai/x"),
      &env_of(&[("TOGETHER_API_KEY", "  ")]),
    ));
    assert!(msg.contains("TOGETHER_API_KEY"), "{msg}");
    let msg = config_error(resolve_model(&cfg("anthropic/claude"), &env_of(&[])));
    assert!(msg.contains("ANTHROPIC_API_KEY"), "{msg}");
  }

  #[test]
  fn explains_the_id_form_and_unknown_providers() {
    for bad in ["gpt-4o", "openai/", "/gpt", ""] {
      let msg = config_error(resolve_model(&cfg(bad), &env_of(&[])));
      assert!(msg.contains("'provider/model'"), "{msg}");
    }
    let msg = config_error(resolve_model(&cfg("acme/model"), &env_of(&[])));
    assert!(
      msg.contains("unknown provider 'acme'") && msg.contains("url"),
      "{msg}"
    );
  }

  #[test]
  fn explicit_url_makes_any_provider_openai_compatible_and_the_key_optional() {
    let c = ModelConfig {
      id: "acme/model-1".into(),
      url: Some("http://127.0.0.1:9/v1/".into()),
      ..Default::default()
    };
    let m = resolve_model(&c, &env_of(&[])).unwrap();
    assert_eq!((m.provider(), m.model_id()), ("acme", "model-1"));
    let c = ModelConfig {
      id: "openai/gpt".into(),
      url: Some("http://127.0.0.1:9/v1".into()),
      ..Default::default()
    };
    assert!(resolve_model(&c, &env_of(&[])).is_ok());
    let c = ModelConfig {
      id: "anthropic/claude".into(),
      url: Some("http://127.0.0.1:9/v1".into()),
      ..Default::default()
    };
    assert_eq!(
      resolve_model(&c, &env_of(&[])).unwrap().provider(),
      "anthropic"
    );
  }

  #[test]
  fn base_url_env_overrides_the_default() {
    let env = env_of(&[
      ("DEEPSEEK_API_KEY", "k"),
      ("DEEPSEEK_BASE_URL", "http://proxy.local/v1"),
    ]);
    let info = find_provider("DeepSeek").unwrap();
    assert_eq!(info.default_base_url, "https://api.deepseek.com/v1");
    let (c, kind) = resolve_config(&cfg("deepseek/deepseek-chat"), &env).unwrap();
    assert_eq!(
      (c.base_url.as_str(), kind),
      ("http://proxy.local/v1", ProviderKind::OpenAiCompatible)
    );
    assert_eq!(c.api_key.as_deref(), Some("k"));
    let (c, _) = resolve_config(&cfg("groq/llama"), &env_of(&[("GROQ_API_KEY", "g")])).unwrap();
    assert_eq!(c.base_url, "https://api.groq.com/openai/v1");
    assert_eq!(
      (c.connect_timeout, c.read_timeout),
      (DEFAULT_CONNECT_TIMEOUT, DEFAULT_READ_TIMEOUT)
    );
    let timed = ModelConfig {
      connect_timeout_ms: Some(1500),
      read_timeout_ms: Some(20_000),
      ..cfg("ollama/x")
    };
    let (c, _) = resolve_config(&timed, &env_of(&[])).unwrap();
    assert_eq!(c.base_url, "http://localhost:11434/v1");
    assert_eq!(
      (c.connect_timeout, c.read_timeout),
      (Duration::from_millis(1500), Duration::from_secs(20))
    );
    assert_eq!(c.api_key, None);
  }

  #[test]
  fn bad_header_is_a_config_error() {
    let c = ModelConfig {
      id: "ollama/x".into(),
      headers: vec![("bad header".into(), "v".into())],
      ..Default::default()
    };
    let msg = config_error(resolve_model(&c, &env_of(&[])));
    assert!(msg.contains("bad header"), "{msg}");
  }

  #[test]
  fn debug_output_hides_secrets() {
    let c = ModelConfig {
      id: "openai/x".into(),
      api_key: Some("sk-secret".into()),
      headers: vec![("authorization".into(), "Bearer sk-secret".into())],
      ..Default::default()
    };
    assert!(!format!("{c:?}").contains("sk-secret"));
    let (pc, _) = resolve_config(&c, &env_of(&[])).unwrap();
    assert!(!format!("{pc:?}").contains("sk-secret"));
  }

  fn embedder_error(r: Result<Arc<dyn Embedder>, ModelError>) -> String {
    match r {
      Err(ModelError::Config(m)) => m,
      Err(other) => panic!("expected a config error, got {other:?}"),
      Ok(e) => panic!(
        "expected a config error, got an embedder for {}",
        e.provider()
      ),
    }
  }

  #[test]
  fn resolves_embedders() {
    let env = env_of(&[("OPENAI_API_KEY", "sk-1"), ("MISTRAL_API_KEY", "m")]);
    let e = resolve_embedder(&cfg("openai/text-embedding-3-small"), &env).unwrap();
    assert_eq!(
      (e.provider(), e.model_id(), e.max_batch()),
      ("openai", "text-embedding-3-small", 2048)
    );
    let e = resolve_embedder(&cfg("mistral/mistral-embed"), &env).unwrap();
    assert_eq!((e.provider(), e.model_id()), ("mistral", "mistral-embed"));
    let e = resolve_embedder(&cfg("ollama/nomic-embed-text"), &env).unwrap();
    assert_eq!(e.provider(), "ollama");
    let c = ModelConfig {
      id: "acme/embed-1".into(),
      url: Some("http://127.0.0.1:9/v1".into()),
      ..Default::default()
    };
    let options = EmbeddingOptions {
      max_batch: Some(100),
      ..Default::default()
    };
    let e = resolve_embedder_with(&c, &env_of(&[]), &options).unwrap();
    assert_eq!((e.provider(), e.max_batch()), ("acme", 100));

    let msg = embedder_error(resolve_embedder(
      &cfg("openai/text-embedding-3-small"),
      &env_of(&[]),
    ));
    assert!(msg.contains("OPENAI_API_KEY"), "{msg}");
    let msg = embedder_error(resolve_embedder(&cfg("acme/embed"), &env));
    assert!(msg.contains("unknown provider 'acme'"), "{msg}");
    let bad_dims = EmbeddingOptions {
      dimensions: Some(0),
      ..Default::default()
    };
    let msg = embedder_error(resolve_embedder_with(
      &cfg("openai/text-embedding-3-small"),
      &env,
      &bad_dims,
    ));
    assert!(msg.contains("dimensions"), "{msg}");
  }

  #[test]
  fn anthropic_has_no_embeddings() {
    for env in [env_of(&[]), env_of(&[("ANTHROPIC_API_KEY", "a")])] {
      let msg = embedder_error(resolve_embedder(&cfg("anthropic/claude-sonnet-4-5"), &env));
      assert!(
        msg.contains("anthropic has no embeddings API")
          && msg.contains("openai/text-embedding-3-small"),
        "{msg}"
      );
    }
    let c = ModelConfig {
      id: "Anthropic/claude".into(),
      url: Some("http://127.0.0.1:9/v1".into()),
      ..Default::default()
    };
    let msg = embedder_error(resolve_embedder(&c, &env_of(&[])));
    assert!(msg.contains("no embeddings API"), "{msg}");
  }

  #[test]
  fn table_lists_every_provider_once() {
    let names: Vec<_> = provider_table().iter().map(|p| p.name).collect();
    assert_eq!(names.len(), 13);
    for p in provider_table() {
      assert_eq!(names.iter().filter(|n| **n == p.name).count(), 1);
      assert!(p.base_url_env.ends_with("_BASE_URL"));
    }
  }
}
