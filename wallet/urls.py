"""Wallet REST routes (mounted under /api/v1/ by daira/urls.py)."""

from django.urls import path

from wallet import api

urlpatterns = [
    path("wallet/balances", api.BalancesApi.as_view(), name="wallet-balances"),
    path("wallet/packages", api.PackageListApi.as_view(), name="wallet-packages"),
    path("wallet/gifts/catalogue", api.GiftCatalogueApi.as_view(), name="wallet-gift-catalogue"),
    path("wallet/purchases", api.PurchaseCreateApi.as_view(), name="wallet-purchases"),
    path("wallet/payments/<str:payment_id>", api.PaymentDetailApi.as_view(), name="wallet-payment"),
    path("wallet/gifts", api.GiftSendApi.as_view(), name="wallet-gifts"),
    path("wallet/tips", api.TipSendApi.as_view(), name="wallet-tips"),
    path("wallet/transactions", api.TransactionListApi.as_view(), name="wallet-transactions"),
    path("wallet/earnings/daily", api.EarningsDailyApi.as_view(), name="wallet-earnings-daily"),
    path("wallet/tiers", api.MyTierListApi.as_view(), name="wallet-my-tiers"),
    path("wallet/tiers/<int:level>", api.MyTierDeleteApi.as_view(), name="wallet-my-tier"),
    path("wallet/creators/<int:creator_id>/tiers", api.CreatorTierListApi.as_view(), name="wallet-creator-tiers"),
    path("wallet/subscriptions", api.SubscriptionListCreateApi.as_view(), name="wallet-subscriptions"),
    path("wallet/subscriptions/<int:subscription_id>/cancel", api.SubscriptionCancelApi.as_view(), name="wallet-subscription-cancel"),
    path("wallet/payout-profile", api.PayoutProfileApi.as_view(), name="wallet-payout-profile"),
    path("wallet/payouts", api.PayoutListCreateApi.as_view(), name="wallet-payouts"),
    path("wallet/payouts/<int:payout_id>", api.PayoutDetailApi.as_view(), name="wallet-payout"),
    path("wallet/webhooks/<str:provider>", api.WebhookApi.as_view(), name="wallet-webhook"),
]
