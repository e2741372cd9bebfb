package testkit

// ShopperQueries are what people type into a search box: short,
// plain-language needs. The search and embedder benchmarks share them.
var ShopperQueries = []string{
	"something to keep my coffee hot", "shoes for running on trails", "wireless headphones for flights",
	"a gift for someone who likes cooking", "waterproof jacket for hiking", "toys for a three year old",
	"a lamp for reading in bed", "ergonomic office chair", "kitchen knife that stays sharp",
	"camping gear for rainy weather", "phone charger for the car", "artificial intelligence books",
	"yoga mat", "face cream for dry skin", "cheap laptop for students", "board game for the family",
	"vitamins for energy", "dog bed for a large dog", "garden tools", "warm winter gloves",
}
