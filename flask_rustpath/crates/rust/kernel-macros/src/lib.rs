//! `#[rustpath::kernel]`: use it through the `flask-rustpath-kernel` crate, which
//! re-exports it and holds everything the generated code calls.

// Here as well as in the [lints] table: a user's crate builds this one from a path, so
// `cargo clippy -- -W clippy::pedantic` there lints it too, and prose names (PyO3,
// rayon) read better without backticks.
#![allow(clippy::doc_markdown)]

use proc_macro::TokenStream;
use proc_macro2::TokenStream as Tokens;
use quote::quote;
use syn::{parse_macro_input, FnArg, ItemFn, Pat, ReturnType, Type};

/// Writes both doors of a plain Rust function: a Python function that releases the
/// GIL while it runs, and a native entry point for `flask rustpath serve`'s front.
///
/// ```ignore
/// #[rustpath::kernel]
/// fn count_vowels(text: &str, deadline: &Deadline<'_>) -> Result<u64, Error> { … }
/// ```
///
/// - Each argument is a value Python and JSON can both give (`&str`, `&[T]`, `i64`,
///   `f64`, `bool`, `Vec<T>`, `Option<T>`, …). A reference is received as its owned
///   form (`String`, `Vec<T>`, `T`) and lent to the function.
/// - An argument of type `&Deadline` is not one Python passes: the Python function
///   takes `timeout=` (seconds) instead, and the front passes its deadline and cancel
///   flag.
/// - The function returns a value, or `Result<T, E>` with `E: Into<rustpath::Error>`:
///   `Err(message)` is bad input (`ValueError`, HTTP 400, both saying
///   `"count_vowels: message"`), a passed deadline is `TimeoutError` or 504, and a
///   panic is `PanicException` or 500.
///
/// The function stays as written, for Rust tests; `count_vowels::KERNEL` describes it
/// for `rustpath::module!`.
#[proc_macro_attribute]
pub fn kernel(attr: TokenStream, item: TokenStream) -> TokenStream {
    let attr = Tokens::from(attr);
    if !attr.is_empty() {
        return syn::Error::new_spanned(attr, "#[rustpath::kernel] takes no arguments")
            .to_compile_error()
            .into();
    }
    let function = parse_macro_input!(item as ItemFn);
    match expand(&function) {
        Ok(tokens) => tokens.into(),
        Err(err) => err.to_compile_error().into(),
    }
}

/// One parameter of the kernel function.
struct Param {
    name: syn::Ident,
    /// The type received from Python or JSON.
    owned: Type,
    /// Passed as `&name` rather than `name`.
    lent: bool,
    deadline: bool,
}

fn param(arg: &FnArg) -> syn::Result<Param> {
    let FnArg::Typed(typed) = arg else {
        return Err(syn::Error::new_spanned(arg, "a kernel is a free function"));
    };
    let Pat::Ident(ident) = &*typed.pat else {
        return Err(syn::Error::new_spanned(
            &typed.pat,
            "a kernel's parameters are plain names",
        ));
    };
    let name = ident.ident.clone();
    if let Type::Reference(reference) = &*typed.ty {
        if reference.mutability.is_some() {
            return Err(syn::Error::new_spanned(
                reference,
                "a kernel's arguments are read-only",
            ));
        }
        let elem = &*reference.elem;
        if last_segment(elem).is_some_and(|s| s == "Deadline") {
            return Ok(Param {
                name,
                owned: elem.clone(),
                lent: true,
                deadline: true,
            });
        }
        let owned: Type = match elem {
            Type::Path(path) if path.path.is_ident("str") => {
                syn::parse_quote!(::std::string::String)
            }
            Type::Slice(slice) => {
                let inner = &slice.elem;
                syn::parse_quote!(::std::vec::Vec<#inner>)
            }
            other => other.clone(),
        };
        return Ok(Param {
            name,
            owned,
            lent: true,
            deadline: false,
        });
    }
    Ok(Param {
        name,
        owned: (*typed.ty).clone(),
        lent: false,
        deadline: false,
    })
}

fn last_segment(ty: &Type) -> Option<String> {
    match ty {
        Type::Path(path) => path.path.segments.last().map(|s| s.ident.to_string()),
        _ => None,
    }
}

#[allow(clippy::too_many_lines)] // one template of the generated code reads best whole
fn expand(function: &ItemFn) -> syn::Result<Tokens> {
    let sig = &function.sig;
    if let Some(token) = sig
        .asyncness
        .as_ref()
        .map(|t| quote!(#t))
        .or_else(|| match &sig.safety {
            syn::Safety::Unsafe(t) => Some(quote!(#t)),
            _ => None,
        })
    {
        return Err(syn::Error::new_spanned(
            token,
            "a kernel is a plain, safe, synchronous function",
        ));
    }
    if !sig.generics.params.is_empty() {
        return Err(syn::Error::new_spanned(
            &sig.generics,
            "a kernel has no generic parameters (`&Deadline<'_>` needs none)",
        ));
    }
    let ident = &sig.ident;
    let name = ident.to_string();
    let params = sig
        .inputs
        .iter()
        .map(param)
        .collect::<syn::Result<Vec<_>>>()?;
    if params.iter().filter(|p| p.deadline).count() > 1 {
        return Err(syn::Error::new_spanned(
            &sig.inputs,
            "a kernel takes at most one deadline",
        ));
    }
    let has_deadline = params.iter().any(|p| p.deadline);
    let values: Vec<&Param> = params.iter().filter(|p| !p.deadline).collect();
    let value_names: Vec<&syn::Ident> = values.iter().map(|p| &p.name).collect();
    let value_types: Vec<&Type> = values.iter().map(|p| &p.owned).collect();
    let value_keys: Vec<String> = values.iter().map(|p| p.name.to_string()).collect();
    let call_args: Vec<Tokens> = params
        .iter()
        .map(|p| {
            let n = &p.name;
            if p.deadline {
                quote!(&deadline)
            } else if p.lent {
                quote!(&#n)
            } else {
                quote!(#n)
            }
        })
        .collect();

    // The function's result as `Result<T, rustpath::Error>`, and `T`.
    let (output, returns_result) = match &sig.output {
        ReturnType::Default => (quote!(()), false),
        ReturnType::Type(_, ty) => match result_ok_type(ty) {
            Some(ok) => (quote!(#ok), true),
            None => (quote!(#ty), false),
        },
    };
    let call = quote!(super::#ident(#(#call_args),*));
    let checked = if returns_result {
        quote!(#call.map_err(::core::convert::Into::<::rustpath::Error>::into))
    } else {
        quote!(::core::result::Result::<_, ::rustpath::Error>::Ok(#call))
    };

    let signature = if has_deadline {
        quote!((#(#value_names,)* *, timeout = None))
    } else {
        quote!((#(#value_names),*))
    };
    let timeout_param = has_deadline.then(|| quote!(timeout: ::core::option::Option<f64>,));
    let python_deadline =
        has_deadline.then(|| quote!(let deadline = ::rustpath::python::deadline(timeout)?;));
    let native_deadline = has_deadline.then(|| quote!(let deadline = *deadline;));
    let native_deadline_param = if has_deadline {
        quote!(deadline)
    } else {
        quote!(_deadline)
    };

    let decode_body = if values.is_empty() {
        quote!(let _ = (key, map); ::core::result::Result::Ok(false))
    } else {
        quote! {
            match key {
                #(#value_keys => self.#value_names = ::core::option::Option::Some(
                    ::rustpath::serde::de::MapAccess::next_value(map)?
                ),)*
                _ => return ::core::result::Result::Ok(false),
            }
            ::core::result::Result::Ok(true)
        }
    };

    Ok(quote! {
        #function

        #[doc = concat!("The two doors of [`", #name, "`](fn@", #name, "), written by `#[rustpath::kernel]`.")]
        #[allow(non_snake_case, clippy::used_underscore_binding)]
        pub(crate) mod #ident {
            #[allow(clippy::wildcard_imports)]
            use super::*;

            /// The kernel, for `rustpath::module!`.
            pub(crate) const KERNEL: ::rustpath::Kernel = ::rustpath::Kernel {
                name: #name,
                add,
                native: ::rustpath::abi::entry::<Native>(),
            };

            fn add(
                m: &::rustpath::pyo3::Bound<'_, ::rustpath::pyo3::types::PyModule>,
            ) -> ::rustpath::pyo3::PyResult<()> {
                use ::rustpath::pyo3::types::PyModuleMethods as _;
                m.add_function(::rustpath::pyo3::wrap_pyfunction!(python, m)?)
            }

            #[::rustpath::pyo3::pyfunction]
            #[pyo3(crate = "::rustpath::pyo3", name = #name, signature = #signature)]
            #[allow(clippy::needless_pass_by_value)]
            fn python(
                py: ::rustpath::pyo3::Python<'_>,
                #(#value_names: #value_types,)*
                #timeout_param
            ) -> ::rustpath::pyo3::PyResult<#output> {
                #python_deadline
                py.detach(move || #checked)
                    .map_err(|err| ::rustpath::python::to_pyerr(#name, err))
            }

            /// The native door.
            pub(crate) struct Native;

            impl ::rustpath::abi::NativeKernel for Native {
                fn call(
                    args: &str,
                    #native_deadline_param: &::rustpath::Deadline<'_>,
                ) -> ::rustpath::abi::Outcome {
                    #native_deadline
                    ::rustpath::abi::run_slots(#name, args, |slots: Slots| {
                        #(let #value_names: #value_types =
                            ::rustpath::abi::required(slots.#value_names, #value_keys)?;)*
                        #checked
                    })
                }
            }

            /// The arguments, decoded from the front's JSON straight into these slots.
            #[derive(Default)]
            pub(crate) struct Slots {
                #(#value_names: ::core::option::Option<#value_types>,)*
            }

            impl ::rustpath::abi::Slots for Slots {
                fn decode<'de, M: ::rustpath::serde::de::MapAccess<'de>>(
                    &mut self,
                    key: &str,
                    map: &mut M,
                ) -> ::core::result::Result<bool, M::Error> {
                    #decode_body
                }
            }
        }
    })
}

/// `T` when `ty` is `Result<T, E>` (by its last path segment).
fn result_ok_type(ty: &Type) -> Option<&Type> {
    let Type::Path(path) = ty else { return None };
    let segment = path.path.segments.last()?;
    if segment.ident != "Result" {
        return None;
    }
    let syn::PathArguments::AngleBracketed(args) = &segment.arguments else {
        return None;
    };
    args.args.iter().find_map(|arg| match arg {
        syn::GenericArgument::Type(ty) => Some(ty),
        _ => None,
    })
}
