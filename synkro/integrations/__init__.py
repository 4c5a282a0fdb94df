"""Integration kinds a tenant connects (Supabase, amoCRM, Radist, Gemini, Telegram): config schemas."""
